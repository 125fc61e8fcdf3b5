"""`drimlab evidence`: export a run as a signed evidence bundle; verify one as a monitor.

`verify` trusts the anchors and CRL it is given (default: the bench PKI's) and the evidence
signers it pins (`--pin`, a programme environment's certificate); it says who signed and
whether that is an independent attestation or a self-attested local bench.

Exit statuses of `verify`: 0 VERIFIED, 1 FAILED, 3 PARTIALLY_VERIFIED, 2 unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import LangOption, fail, state
from drimlab.errors import ConfigurationError
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.scenarios.signing import MonitorTrust, Signer
from drimlab.scenarios.summary import render_verification
from drimlab.trust.pki import Pki
from drimlab.trust.pki_files import MANIFEST
from drimlab.trust.pki_verify import RevocationList, load_certificates

evidence_app = typer.Typer(help="Evidence bundles: export a run, verify a bundle.")
PARTIAL = 3


@evidence_app.command("export")
def export_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    target: Annotated[Path, typer.Argument(metavar="FILE.zip", help="The bundle to write.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Sign with this PEM key (default: the bench's).")
    ] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="The signing key's certificate chain (PEM).")
    ] = None,
) -> None:
    """Write a run's evidence bundle, its manifest signed by the bench's key."""
    cli = state(ctx)
    if (key is None) != (cert is None):
        fail("--key and --cert go together")
    if key is not None and cert is not None:
        signer = Signer.from_files(key, cert)
    else:
        signer = Signer.from_pki(Pki.open(cli.settings.pki_dir))
    summary = export_bundle(cli.store, run_id, target, signer)
    typer.echo(
        f"wrote {summary.path} ({summary.files} files; manifest sha256 {summary.manifest_sha256})"
    )


def _trust(anchors: Path | None, crl: Path | None, pins: list[Path], pki_dir: Path) -> MonitorTrust:
    """What the monitor trusts: given anchors/CRL, else the bench PKI's; pinned signers."""
    pinned = tuple(MonitorTrust.pin(load_certificates(p)[0]) for p in pins)
    if anchors is not None:
        found = load_certificates(anchors)
        revocation = RevocationList.load(crl, found) if crl is not None else None
        return MonitorTrust(tuple(found), revocation, pinned)
    if not (pki_dir / MANIFEST).exists():
        if pinned:
            if crl is not None:
                fail("--crl needs --anchors: the CA certificates that signed it")
            return MonitorTrust((), None, pinned)
        raise ConfigurationError(
            f"no test PKI at {pki_dir} to take trust anchors from: give --anchors FILE.pem"
        )
    pki = Pki.open(pki_dir)
    revocation = RevocationList.load(crl if crl is not None else pki.crl_path, pki.anchors())
    return MonitorTrust(tuple(pki.anchors()), revocation, pinned)


@evidence_app.command("verify")
def verify_command(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(metavar="FILE.zip", help="The evidence bundle.")],
    anchors: Annotated[
        Path | None,
        typer.Option("--anchors", help="Trusted CA certificates (PEM); default the bench's."),
    ] = None,
    crl: Annotated[
        Path | None,
        typer.Option("--crl", help="CRL of the anchors (DER or PEM); default the bench's."),
    ] = None,
    pin: Annotated[
        list[Path] | None,
        typer.Option(
            "--pin",
            help="A programme environment's evidence signer (PEM certificate); repeatable.",
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the monitor's HTML summary.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    lang: LangOption = "en",
) -> None:
    """Check a bundle: who signed it, hashes, re-validation, exam, evidence; print the verdict."""
    if fmt not in ("text", "json"):
        fail(f"--format {fmt!r}: choose text or json")
    trust = _trust(anchors, crl, list(pin or ()), state(ctx).settings.pki_dir)
    result = verify_bundle(bundle, trust=trust)
    if html is not None:
        try:
            html.write_text(render_verification(result, lang), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html}: {exc.strerror}")
    if fmt == "json":
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{result.verdict.value}  {bundle}")
        attestation = result.attestation(lang)
        if attestation is not None:
            typer.echo(f"  signed by {attestation['signer']}: {attestation['text']}")
        for reason in result.failures:
            typer.echo(f"  FAILED: {reason}")
        for item in result.missing:
            typer.echo(f"  MISSING: {item}")
        for notice in result.notices:
            typer.echo(f"  note: {notice}")
        for line in result.reports:
            shown = line.transport.value + (f" {line.tls_version}" if line.tls_version else "")
            typer.echo(f"  report {line.report[:8]} ({line.step}): {line.verdict}, {shown}")
        for check in result.checks:
            typer.echo(f"  ok: {check}")
    if result.verdict is MonitorVerdict.FAILED:
        raise typer.Exit(1)
    if result.verdict is MonitorVerdict.PARTIALLY_VERIFIED:
        raise typer.Exit(PARTIAL)


def register(app: typer.Typer) -> None:
    """Add `drimlab evidence` to the root app."""
    app.add_typer(evidence_app, name="evidence")
