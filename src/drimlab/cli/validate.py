"""`drimlab validate`: validate a WADO-RS request, response or HAR capture and keep the report.

Exit status: 0 PASSED (or UNDEFINED: nothing checkable), 1 FAILED, 2 unusable input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import fail, state
from drimlab.cli.reporting import (
    FormatOption,
    IgnoreOption,
    OutputOption,
    PixelSampleOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    check_format,
    emit,
    exit_status,
    selection,
)
from drimlab.dciodvfy import checker
from drimlab.documents.kos import Kos, read_kos
from drimlab.exchange import Exchange
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange
from drimlab.validation.loaders import load_har, load_request, load_response
from drimlab.validation.report import Report

validate_app = typer.Typer(
    help="Validate WADO-RS messages (request, response, HAR) against a profile.",
    no_args_is_help=True,
)

FileArgument = Annotated[
    Path, typer.Argument(help="The message file.", exists=False, dir_okay=False)
]
DciodvfyOption = Annotated[
    bool, typer.Option("--dciodvfy", help="Also check every DICOM part with dciodvfy.")
]


def _read_kos(path: Path | None) -> Kos | None:
    if path is None:
        return None
    return read_kos(path)


def _run(
    ctx: typer.Context,
    exchanges: list[Exchange],
    *,
    chosen: Selection,
    dciodvfy: bool,
    fmt: str,
    output: Path | None,
    kos: Kos | None = None,
) -> int:
    reports: list[Report] = []
    iod_checker = checker(required=True) if dciodvfy else None
    store = state(ctx).store
    for exchange in exchanges:
        report = validate_exchange(exchange, chosen, kos=kos, checker=iod_checker)
        exchange_id = save_exchange(store, exchange)
        save_report(store, report, exchange_id=exchange_id)
        reports.append(report)
    emit(reports, fmt, output)
    return exit_status(reports)


@validate_app.command("request")
def request_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    kos: Annotated[
        Path | None, typer.Option("--kos", help="The KOS the consumer read (Part 10 file).")
    ] = None,
    dciodvfy: DciodvfyOption = False,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> int:
    """Validate a raw HTTP request file (request line, headers, blank line)."""
    check_format(fmt)
    chosen = selection(profile, select, ignore, severity)
    exchange = load_request(file)
    status = _run(
        ctx,
        [exchange],
        chosen=chosen,
        dciodvfy=dciodvfy,
        fmt=fmt,
        output=output,
        kos=_read_kos(kos),
    )
    raise typer.Exit(status)


@validate_app.command("response")
def response_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    request: Annotated[
        Path | None, typer.Option("--request", help="The request this response answers.")
    ] = None,
    kos: Annotated[
        Path | None, typer.Option("--kos", help="The KOS the request came from (Part 10 file).")
    ] = None,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    dciodvfy: DciodvfyOption = False,
    pixel_sample: PixelSampleOption = None,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> int:
    """Validate a raw HTTP response file (status line, headers, blank line, body)."""
    check_format(fmt)
    chosen = selection(profile, select, ignore, severity, pixel_sample)
    paired = load_request(request) if request is not None else None
    exchange = load_response(file, paired)
    status = _run(
        ctx,
        [exchange],
        chosen=chosen,
        dciodvfy=dciodvfy,
        fmt=fmt,
        output=output,
        kos=_read_kos(kos),
    )
    raise typer.Exit(status)


@validate_app.command("har")
def har_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    kos: Annotated[
        Path | None, typer.Option("--kos", help="The KOS the requests came from (Part 10 file).")
    ] = None,
    dciodvfy: DciodvfyOption = False,
    pixel_sample: PixelSampleOption = None,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> int:
    """Validate every entry of a HAR 1.2 capture (one report per entry)."""
    check_format(fmt)
    chosen = selection(profile, select, ignore, severity, pixel_sample)
    exchanges = load_har(file)
    if not exchanges:
        fail(f"{file}: the HAR file has no entries")
    if len(exchanges) > 1 and output is None and fmt not in ("text", "json"):
        fail(f"{len(exchanges)} entries give {len(exchanges)} {fmt} reports: give --output FOLDER")
    status = _run(
        ctx,
        exchanges,
        chosen=chosen,
        dciodvfy=dciodvfy,
        fmt=fmt,
        output=output,
        kos=_read_kos(kos),
    )
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(validate_app, name="validate")
