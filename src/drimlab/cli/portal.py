"""`drimlab portal`: the test environment in a browser, on its own (the server simulator may
run in another process: `drimlab serve`). `drimlab start` runs both in one process.
"""

from __future__ import annotations

from typing import Annotated

import typer

from drimlab.cli._common import err_console, state
from drimlab.portal.context import DEFAULT_UPLOAD_LIMIT, SimulatorLink
from drimlab.portal.serve import DEFAULT_PORT, build_portal, port_is_free, serve_foreground


def portal_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="HTTP port of the portal.")
    ] = DEFAULT_PORT,
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
    task_queue: Annotated[
        bool,
        typer.Option(
            "--task-queue/--no-task-queue",
            envvar="DRIMLAB_TASK_QUEUE",
            help="Hand larger API validations to the task queue on the PostgreSQL store "
            "(run `drimlab worker` beside it).",
        ),
    ] = False,
    background_above: Annotated[
        int,
        typer.Option(
            "--background-above",
            min=0,
            max=1024 * 1024,
            help="With --task-queue: API validations whose inputs pass this size (MB) are "
            "validated in the background (202).",
        ),
    ] = 16,
    upload_limit: Annotated[
        int,
        typer.Option(
            "--upload-limit",
            min=1,
            max=1024 * 1024,
            help="Largest request body the portal takes (MB); larger uploads are refused (413).",
        ),
    ] = DEFAULT_UPLOAD_LIMIT // (1024 * 1024),
) -> None:
    """Serve the portal: environment, datasets, simulators, validators, scenarios, monitor."""
    cli = state(ctx)
    if not port_is_free(host, port):
        raise typer.BadParameter(f"{host}:{port} is in use", param_hint="--port")
    link = SimulatorLink(
        base_url=simulator_url.rstrip("/"), insecure_http=simulator_url.startswith("http:")
    )
    if task_queue:
        from drimlab.portal import queue  # noqa: PLC0415 - the `postgres` extra

        queue.conninfo(cli.settings)  # the queue needs PostgreSQL: say so before preparing
    portal = build_portal(cli.store, cli.settings, link, prepare_dataset=True)
    portal.accounts, portal.cookie_secure = accounts, cookie_secure
    portal.upload_limit = upload_limit * 1024 * 1024
    if task_queue:
        app = queue.queue_app(cli.settings)
        queue.apply_queue_schema(app)
        portal.queue, portal.background_above = app, background_above * 1024 * 1024
    typer.echo(f"drimlab portal       http://{host}:{port}/")
    err_console.print("serving the portal; Ctrl-C to stop", markup=False)
    serve_foreground(portal, host, port)


def worker_command(
    ctx: typer.Context,
    concurrency: Annotated[
        int, typer.Option(min=1, max=32, help="Jobs this worker runs at once.")
    ] = 1,
    stalled_after: Annotated[
        int,
        typer.Option(
            "--stalled-after",
            min=5,
            max=3600,
            help="Seconds without a worker's heartbeat after which its running jobs are retried.",
        ),
    ] = 60,
) -> None:
    """Run a task worker: background validations from the task queue on the PostgreSQL store.

    Start as many as needed, on any machine sharing the database and the data directory;
    stop one with Ctrl-C or SIGTERM (its current jobs finish first).
    """
    from drimlab.portal import queue  # noqa: PLC0415 - the `postgres` extra

    cli = state(ctx)
    queue.conninfo(cli.settings)  # the queue needs PostgreSQL: say so before preparing
    link = SimulatorLink(base_url=cli.settings.wado_base_url)
    portal = build_portal(cli.store, cli.settings, link, prepare_dataset=False)
    err_console.print("task worker: waiting for jobs; Ctrl-C to stop", markup=False)
    queue.run_worker(portal, concurrency=concurrency, stalled_after=stalled_after)


def register(app: typer.Typer) -> None:
    """Add `drimlab portal` and `drimlab worker` to the root app."""
    app.command("portal")(portal_command)
    app.command("worker")(worker_command)
