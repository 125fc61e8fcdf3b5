"""`drimlab exchanges list|show`: what the simulators and validators recorded."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from drimlab.cli._common import console, fail, state
from drimlab.exchange import Exchange
from drimlab.store.queries import list_exchanges, report_ids_of, resolve_exchange_id
from drimlab.store.records import load_exchange, load_report
from drimlab.validation.render import FORMATS, render
from drimlab.validation.rules import load_all

exchanges_app = typer.Typer(help="Recorded exchanges and their reports.", no_args_is_help=True)


@exchanges_app.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many, most recent first.")] = 50,
    origin: Annotated[
        str | None, typer.Option(help="Only server, client, proxy or file exchanges.")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Only this Study Instance UID.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """List recorded exchanges with the verdicts of their reports."""
    rows = list_exchanges(state(ctx).store, limit=limit, origin=origin, study=study)
    if as_json:
        payload = [
            {
                "id": r.id,
                "created_at": r.created_at.isoformat(),
                "origin": r.origin,
                "method": r.method,
                "target": r.target,
                "status": r.status,
                "verdicts": list(r.verdicts),
                "note": r.note,
            }
            for r in rows
        ]
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table("id", "when (UTC)", "origin", "request", "status", "verdict")
    for r in rows:
        request = f"{r.method} {r.target}" if r.method else (r.note or "-")
        table.add_row(
            r.id[:8],
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.origin,
            request,
            "-" if r.status is None else str(r.status),
            ", ".join(r.verdicts) or "-",
        )
    console.print(table)


@exchanges_app.command("show")
def show_command(
    ctx: typer.Context,
    exchange_id: Annotated[str, typer.Argument(help="An exchange id (or a unique prefix).")],
    fmt: Annotated[
        str, typer.Option("--format", help="Report format: " + ", ".join(FORMATS))
    ] = "text",
) -> None:
    """Print one exchange (request and response headers) and its reports."""
    store = state(ctx).store
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    full = resolve_exchange_id(store, exchange_id)
    if full is None:
        fail(f"no single exchange with id {exchange_id!r} (see: drimlab exchanges list)")
    exchange = load_exchange(store, full)
    if fmt == "text":
        lines = [f"exchange {full} ({exchange.origin})"]
        if exchange.has_request:
            lines.append(f"> {exchange.method} {exchange.target}")
            lines += [f"> {name}: {value}" for name, value in exchange.request_headers]
        if exchange.has_response:
            lines.append(f"< {exchange.status} {exchange.reason}".rstrip())
            lines += [f"< {name}: {value}" for name, value in exchange.response_headers]
        lines += _tls_lines(exchange)
        if exchange.timings:
            lines.append("timings: " + ", ".join(f"{k}={v}" for k, v in exchange.timings.items()))
        typer.echo("\n".join(lines))
    for report_id in report_ids_of(store, full):
        typer.echo(render(load_report(store, report_id), fmt, catalogue=load_all()))


def _tls_lines(exchange: Exchange) -> list[str]:
    tls = exchange.tls
    if tls is None:
        return []
    if not tls.tls:
        return [f"transport: plain HTTP (peer {tls.peer_address or '?'})"]
    lines = [f"tls: {tls.version or '-'} {tls.cipher or ''}, peer {tls.peer_address or '?'}"]
    if tls.handshake is not None:
        h = tls.handshake
        lines.append(f"handshake refused by the {h.refused_by.value}: {h.reason} {h.message}")
    for cert in tls.peer_chain:
        lines.append(
            f"peer certificate: {cert.subject} (issuer {cert.issuer}, serial {cert.serial}, "
            f"{cert.not_before.date()} to {cert.not_after.date()}, sha256 {cert.sha256[:16]}...)"
        )
    if exchange.decision is not None and exchange.decision.refused:
        d = exchange.decision
        lines.append(f"refused: {d.status} {d.cause.value}: {d.detail}")
    return lines


def register(app: typer.Typer) -> None:
    """Add `drimlab exchanges` to the root app."""
    app.add_typer(exchanges_app, name="exchanges")
