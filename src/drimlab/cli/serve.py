"""`drimlab serve` (the server simulator) and `drimlab start` (the whole test environment)."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import console, drimlab_command, err_console, state
from drimlab.cli.reporting import (
    IgnoreOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    selection,
)
from drimlab.portal.context import SimulatorLink
from drimlab.portal.serve import DEFAULT_PORT as PORTAL_PORT
from drimlab.portal.serve import build_portal, port_is_free, portal_in_thread
from drimlab.simulators.address import public_origin
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.faults import FAULT_DOCS, FaultRule
from drimlab.simulators.recovery import recover_journals
from drimlab.simulators.runner import (
    SHUTDOWN_TIMEOUT,
    Serving,
    free_port,
    serve_until_signalled,
)
from drimlab.simulators.serve import SourceOptions, SourceSetup, build_source, notice
from drimlab.simulators.source import SOURCE_KEY
from drimlab.tokens import DEFAULT_ISSUER
from drimlab.trust.live import StalePolicy


@dataclass(frozen=True)
class PortalChoice:
    """The portal `drimlab start` runs beside the simulator (port 0: none)."""

    port: int = 0
    accounts: bool = False  # a shared environment: logins, organisations, isolation
    cookie_secure: bool = True


def _portal(
    stack: ExitStack, ctx: typer.Context, setup: SourceSetup, origin: str, choice: PortalChoice
) -> str:
    """Start the portal beside the simulator (same process: it can switch its faults).

    Returns its URL, printed once the simulator's ports are bound too (a busy port prints only
    its error)."""
    cli, options = state(ctx), setup.options
    crl = f"http://{options.host}:{options.crl_port}/pki/crl" if options.crl_port else None
    link = SimulatorLink(
        base_url=f"{origin}{options.base_path}",
        insecure_http=options.insecure_http,
        crl_url=None if options.insecure_http else crl,
        notice=notice(setup, origin, drimlab_command(cli.settings)),
        handlers=setup.app[SOURCE_KEY],
    )
    port = choice.port
    if not port_is_free(options.host, port):
        chosen = free_port(options.host)
        err_console.print(f"portal: port {port} is in use, using {chosen}", markup=False)
        port = chosen
    portal = build_portal(cli.store, cli.settings, link)
    portal.accounts, portal.cookie_secure = choice.accounts, choice.cookie_secure
    running = stack.enter_context(portal_in_thread(portal, options.host, port))
    return f"drimlab portal        {running.url}"


def _serve(ctx: typer.Context, options: SourceOptions, portal: PortalChoice | None = None) -> None:
    cli = state(ctx)
    for spec in options.faults:
        FaultRule.parse(spec)  # an unknown fault is a one-line error before anything starts
    env = BenchEnvironment.prepare(
        cli.store, cli.settings, progress=lambda m: err_console.print(m, markup=False)
    )
    setup = build_source(
        cli.store, env, options, notify=lambda m: err_console.print(m, markup=False)
    )
    recorder = setup.recorder
    recovery = recover_journals(cli.store, recorder.judge)
    if recovery.journals:
        err_console.print(f"drimlab: {recovery.summary()}", markup=False)
    scheme = "http" if options.insecure_http else "https"
    origin = public_origin(scheme, options.host, options.port, env)
    stack = ExitStack()
    portal_line = (
        _portal(stack, ctx, setup, origin, portal) if portal is not None and portal.port else None
    )
    listeners: list[Serving] = [
        (setup.app, options.host, options.port, setup.ssl_context, setup.guard)
    ]
    if options.crl_port is not None and not options.insecure_http:
        listeners.append((setup.pki_app, options.host, options.crl_port, None, None))
    listening: list[bool] = []

    def announce() -> None:  # once every port is bound: a busy port prints only its error
        listening.append(True)
        if portal_line:
            typer.echo(portal_line)
        typer.echo(notice(setup, origin, drimlab_command(cli.settings)))  # never wrapped
        console.print("serving; Ctrl-C to stop", markup=False)  # SIGTERM stops the same way

    def stopping(signal_name: str) -> None:
        recorder.stopping = True  # new requests: 503 shutting-down
        bound = SHUTDOWN_TIMEOUT + recorder.drain_seconds
        err_console.print(
            f"drimlab: {signal_name}: finishing the requests in flight and storing their "
            f"exchanges (at most {bound:g} s; a second signal stops at once)",
            markup=False,
        )

    try:
        asyncio.run(serve_until_signalled(listeners, on_ready=announce, on_signal=stopping))
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: what is not stored yet stays in the journal
    finally:
        stack.close()
        left = recorder.close()
        if listening:
            recorded, failed = len(recorder.recorded), len(recorder.failures)
            line = f"stopped: {recorded} exchanges recorded"
            if left:
                line += (
                    f"; {left} left in the journal, stored by the next `drimlab serve`/"
                    "`start` or by `drimlab exchanges recover`"
                )
            typer.echo(line)  # one line, never wrapped
            for failure in recorder.failures:
                err_console.print(f"drimlab: not recorded: {failure}", markup=False)
            if failed:
                raise typer.Exit(1)


HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[
    int, typer.Option(min=1, max=65535, help="WADO-RS port (HTTPS with mutual TLS).")
]
CrlPortOption = Annotated[
    int,
    typer.Option(min=0, max=65535, help="Plain-HTTP port for the CRL and CA bundle (0: none)."),
]
InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure-http",
        help="Plain HTTP, no client certificate: local debugging only (flagged in every report).",
    ),
]
StaleCrlOption = Annotated[
    StalePolicy,
    typer.Option(
        "--stale-crl",
        help="While a CRL the bench cannot re-sign is past its nextUpdate: refuse every client "
        "(403, TLS-008) or warn (admit them, TLS-008 as a warning). The bench's own CRL is "
        "re-signed before it goes stale.",
        case_sensitive=False,
    ),
]
FaultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        help="Inject a fault, NAME or NAME:MATCH (only requests whose path contains MATCH). "
        "Names: " + ", ".join(f.value for f in FAULT_DOCS),
    ),
]


def serve(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8443,
    crl_port: CrlPortOption = 8080,
    insecure_http: InsecureOption = False,
    fault: FaultOption = None,
    no_drim: Annotated[
        bool, typer.Option("--no-drim", help="Plain DICOMweb: no KOS header or token required.")
    ] = False,
    jwks: Annotated[
        Path | None, typer.Option(help="Trust this issuer's JWKS instead of the bench's.")
    ] = None,
    issuer: Annotated[str, typer.Option(help="Expected `iss` of tokens.")] = DEFAULT_ISSUER,
    stale_crl: StaleCrlOption = StalePolicy.REFUSE,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
) -> None:
    """Start the server simulator (the DRIMBox source) on the catalogue's exams."""
    chosen = selection(profile, select, ignore, severity)
    _serve(
        ctx,
        SourceOptions(
            host=host,
            port=port,
            crl_port=crl_port or None,
            insecure_http=insecure_http,
            drim_mode=not no_drim,
            faults=tuple(fault or ()),
            jwks_path=jwks,
            issuer_url=issuer,
            selection=chosen,
            stale_crl=stale_crl,
        ),
    )


def start(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8443,
    crl_port: CrlPortOption = 8080,
    portal_port: Annotated[
        int, typer.Option(min=0, max=65535, help="HTTP port of the portal (0: no portal).")
    ] = PORTAL_PORT,
    accounts: Annotated[
        bool,
        typer.Option(
            "--accounts/--no-accounts",
            envvar="DRIMLAB_ACCOUNTS",
            help="The portal as a shared environment: logins, organisations, isolation (see "
            "`drimlab admin`).",
        ),
    ] = False,
    cookie_secure: Annotated[
        bool,
        typer.Option(
            "--secure-cookies/--plain-http-cookies",
            help="With --accounts: session cookies only over HTTPS (a TLS proxy in front, or "
            "localhost); plain HTTP for a test on another address.",
        ),
    ] = True,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
) -> None:
    """Start the test environment on its defaults: dataset, PKI, whitelist, server simulator
    and the portal (its URL printed first)."""
    chosen = selection(profile, select, ignore, severity)
    _serve(
        ctx,
        SourceOptions(host=host, port=port, crl_port=crl_port or None, selection=chosen),
        PortalChoice(portal_port, accounts, cookie_secure),
    )


def register(app: typer.Typer) -> None:
    """Add `drimlab serve` and `drimlab start` to the root app."""
    app.command("serve")(serve)
    app.command("start")(start)
