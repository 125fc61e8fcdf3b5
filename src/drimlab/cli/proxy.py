"""`drimlab proxy`: the recording proxy between a consumer and a source DRIMBox.

Every certificate, CA bundle, whitelist and CRL defaults to the bench's own (the proxy then
presents the bench's source certificate to the consumer and its consumer certificate to the
source, both on the bench whitelist); each can be replaced by your own files.
Exit status: 0 after Ctrl-C with every exchange recorded, 1 when some could not be, 2 for an
unusable input.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import CliState, console, err_console, fail, state
from drimlab.cli.reporting import (
    IgnoreOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    selection,
)
from drimlab.documents.kos import read_kos
from drimlab.errors import DrimlabError
from drimlab.proxy.config import MIB, Identity, ProxyConfig, Upstream
from drimlab.proxy.liveview import live_line
from drimlab.proxy.recording import Recorded
from drimlab.proxy.server import RecordingProxy, serve_until_cancelled
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT, BenchEnvironment
from drimlab.trust.pki_verify import RevocationList, load_certificates
from drimlab.trust.whitelist import load_whitelist
from drimlab.validation.assess import Selection


def _say(message: str) -> None:
    err_console.print(message, markup=False)


def _pair(cert: Path | None, key: Path | None, what: str) -> None:
    if (cert is None) != (key is None):
        fail(f"{what}: the certificate and its key go together")


def _config(
    cli: CliState,
    upstream: str,
    *,
    host: str,
    port: int,
    files: dict[str, Path | None],
    check_whitelist: bool,
    kos: list[Path],
    chosen: Selection,
    validation_buffer: int,
    validation_workers: int,
    timeout: float,
) -> ProxyConfig:
    """The proxy's configuration; the bench's files fill what is not given."""
    target = Upstream.parse(upstream)
    _pair(files["cert"], files["key"], "--cert/--key")
    _pair(files["upstream_cert"], files["upstream_key"], "--upstream-cert/--upstream-key")
    env = None
    if not all(files[k] for k in ("cert", "ca", "upstream_cert")) or (
        check_whitelist and files["whitelist"] is None
    ):
        env = BenchEnvironment.prepare(cli.store, cli.settings, progress=_say, dataset=False)
    pki = env.pki if env is not None else None

    def pick(name: str, bench: Path | None) -> Path:
        found = files[name] or bench
        assert found is not None
        return found

    ca = pick("ca", pki.bundle_path if pki else None)
    listen = Identity(
        pick("cert", pki.chain_path(SOURCE_CERT) if pki else None),
        pick("key", pki.key_path(SOURCE_CERT) if pki else None),
        ca,
    )
    client = Identity(
        pick("upstream_cert", pki.chain_path(CONSUMER_CERT) if pki else None),
        pick("upstream_key", pki.key_path(CONSUMER_CERT) if pki else None),
        files["upstream_ca"] or ca,
    )
    whitelist = None
    if check_whitelist:
        listed = pick("whitelist", env.whitelist_path if env else None)
        try:
            whitelist = load_whitelist(listed)
        except DrimlabError as exc:
            fail(f"--whitelist {listed}: {exc}")
    crl = None
    if files["crl"] is not None:
        issuers = [c for path in {listen.ca, client.ca} for c in load_certificates(path)]
        crl = RevocationList.load(files["crl"], issuers)
    elif env is not None and files["ca"] is None and files["upstream_ca"] is None:
        crl = env.revocation_list()
    return ProxyConfig(
        upstream=target,
        listen=listen,
        client=client if target.tls else None,
        host=host,
        port=port,
        whitelist=whitelist,
        crl=crl,
        kos=tuple(read_kos(path) for path in kos),
        selection=chosen,
        validation_buffer=validation_buffer * MIB,
        validation_workers=validation_workers,
        timeout=timeout,
        trust_hint=str(ca),
    )


def notice(config: ProxyConfig) -> str:
    """What a vendor needs to put the proxy between their two DRIMBoxes."""
    listen, client = config.listen, config.client
    lines = [
        "drimlab recording proxy — relays and records every exchange",
        f"  consumers connect to  https://{config.host}:{config.port} (same paths as the source)",
        f"  relaying to source    {config.upstream.origin}",
        f"  consumer leg          presents {listen.cert}, verifies consumers with {listen.ca}",
    ]
    if client is not None:
        lines.append(
            f"  source leg            presents {client.cert}, verifies the source with {client.ca}"
        )
    else:
        lines.append("  source leg            plain HTTP (flagged TLS-013 in every report)")
    lines += [
        "  whitelist             "
        + ("not checked" if config.whitelist is None else "both peers looked up"),
        "  CRL                   " + ("not checked" if config.crl is None else config.crl.source),
        f"  rules                 {config.selection.profile.name}, validated live "
        f"(buffer {config.validation_buffer // MIB} MiB)",
        "  live view: time method target status verdict bytes seconds error-codes (warnings)",
    ]
    return "\n".join(lines)


def proxy(
    ctx: typer.Context,
    upstream: Annotated[
        str, typer.Option("--upstream", help="The source's origin, https://host:port.")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port the consumer connects to (mutual TLS).")
    ] = 9443,
    cert: Annotated[
        Path | None, typer.Option(help="Certificate chain presented to the consumer (PEM).")
    ] = None,
    key: Annotated[Path | None, typer.Option(help="Its key (PEM).")] = None,
    ca: Annotated[
        Path | None, typer.Option(help="CA bundle the consumer's certificate must chain to.")
    ] = None,
    upstream_cert: Annotated[
        Path | None, typer.Option(help="Client certificate chain presented to the source.")
    ] = None,
    upstream_key: Annotated[Path | None, typer.Option(help="Its key (PEM).")] = None,
    upstream_ca: Annotated[
        Path | None, typer.Option(help="CA bundle the source's certificate must chain to.")
    ] = None,
    whitelist: Annotated[
        Path | None, typer.Option(help="Whitelist both peers are looked up in.")
    ] = None,
    no_whitelist_check: Annotated[
        bool, typer.Option("--no-whitelist-check", help="Do not look the peers up.")
    ] = False,
    crl: Annotated[Path | None, typer.Option(help="CRL both peers are checked against.")] = None,
    kos: Annotated[
        list[Path] | None, typer.Option("--kos", help="A KOS the exchanges are checked against.")
    ] = None,
    validation_buffer: Annotated[
        int,
        typer.Option(
            min=1, max=65536, help="MiB the live validation may fall behind before it gives up."
        ),
    ] = 64,
    validation_workers: Annotated[int, typer.Option(min=1, max=64, help="Validation threads.")] = 1,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1, max=86400.0, help="Seconds the source may stay silent in an exchange."
        ),
    ] = 300.0,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
) -> None:
    """Relay a consumer's exchanges with a source, recording and validating each one."""
    cli = state(ctx)
    chosen = selection(profile, select, ignore, severity)
    files = {
        "cert": cert,
        "key": key,
        "ca": ca,
        "upstream_cert": upstream_cert,
        "upstream_key": upstream_key,
        "upstream_ca": upstream_ca,
        "whitelist": whitelist,
        "crl": crl,
    }
    config = _config(
        cli,
        upstream,
        host=host,
        port=port,
        files=files,
        check_whitelist=not no_whitelist_check,
        kos=kos or [],
        chosen=chosen,
        validation_buffer=validation_buffer,
        validation_workers=validation_workers,
        timeout=timeout,
    )

    def show(recorded: Recorded) -> None:
        typer.echo(live_line(recorded))

    running = RecordingProxy(config, cli.store, on_recorded=show, keep=False)
    listening = False

    def ready() -> None:
        nonlocal listening
        listening = True
        typer.echo(notice(config))
        console.print("relaying; Ctrl-C to stop", markup=False)

    try:
        asyncio.run(serve_until_cancelled(running, listening=ready))
    except KeyboardInterrupt:
        pass
    finally:
        running.close()
    recorder = running.recorder
    if listening:
        console.print(f"stopped: {recorder.count} exchanges recorded", markup=False)
    for failure in recorder.failures:
        err_console.print(f"drimlab: {failure}", markup=False)
    if recorder.failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `drimlab proxy` to the root app."""
    app.command("proxy")(proxy)
