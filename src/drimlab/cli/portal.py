"""`drimlab portal`: the test environment in a browser, on its own (the server simulator may
run in another process: `drimlab serve`). `drimlab start` runs both in one process.
"""

from __future__ import annotations

from typing import Annotated

import typer

from drimlab.cli._common import err_console, state
from drimlab.portal.context import SimulatorLink
from drimlab.portal.serve import DEFAULT_PORT, build_portal, port_is_free, serve_foreground


def portal_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port of the portal.")] = DEFAULT_PORT,
    simulator_url: Annotated[
        str, typer.Option("--simulator-url", help="WADO-RS base URL of the server simulator.")
    ] = "https://localhost:8443/dicom-web",
    accounts: Annotated[
        bool,
        typer.Option(
            "--accounts/--no-accounts",
            envvar="DRIMLAB_ACCOUNTS",
            help="A shared environment: logins, organisations, isolation (see `drimlab admin`).",
        ),
    ] = False,
    cookie_secure: Annotated[
        bool,
        typer.Option(
            "--secure-cookies/--plain-http-cookies",
            help="Session cookies only over HTTPS (the TLS proxy in front); plain HTTP for a "
            "test on this machine.",
        ),
    ] = True,
) -> None:
    """Serve the portal: environment, datasets, simulators, validators, scenarios, monitor."""
    cli = state(ctx)
    if not port_is_free(host, port):
        raise typer.BadParameter(f"{host}:{port} is in use", param_hint="--port")
    link = SimulatorLink(
        base_url=simulator_url.rstrip("/"), insecure_http=simulator_url.startswith("http:")
    )
    portal = build_portal(cli.store, cli.settings, link, prepare_dataset=True)
    portal.accounts, portal.cookie_secure = accounts, cookie_secure
    typer.echo(f"drimlab portal       http://{host}:{port}/")
    err_console.print("serving the portal; Ctrl-C to stop", markup=False)
    serve_foreground(portal, host, port)


def register(app: typer.Typer) -> None:
    """Add `drimlab portal` to the root app."""
    app.command("portal")(portal_command)
