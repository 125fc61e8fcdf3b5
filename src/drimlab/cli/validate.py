"""`drimlab validate`: validate a WADO-RS request, response or HAR capture and keep the report.

Exit status: 0 PASSED (or UNDEFINED: nothing checkable), 1 FAILED, 2 unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import console, fail, state
from drimlab.documents.kos import Kos, read_kos
from drimlab.errors import InputError
from drimlab.exchange import Exchange
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.engine import validate_exchange
from drimlab.validation.loaders import load_har, load_request, load_response
from drimlab.validation.profiles import get_profile, resolve
from drimlab.validation.render import FORMATS, render
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import UnknownRuleError, load_all

validate_app = typer.Typer(
    help="Validate WADO-RS messages (request, response, HAR) against a profile.",
    no_args_is_help=True,
)

FileArgument = Annotated[
    Path, typer.Argument(help="The message file.", exists=False, dir_okay=False)
]
ProfileOption = Annotated[
    str, typer.Option("--profile", "-p", help="Rule profile: dicomweb or drim-m.")
]
SelectOption = Annotated[
    list[str] | None,
    typer.Option("--select", help="Only these rule codes or prefixes (repeatable, comma lists)."),
]
IgnoreOption = Annotated[
    list[str] | None,
    typer.Option("--ignore", help="Skip these rule codes or prefixes (repeatable, comma lists)."),
]
DciodvfyOption = Annotated[
    bool, typer.Option("--dciodvfy", help="Also check every DICOM part with dciodvfy.")
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help=f"Report format: {', '.join(FORMATS)}.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to this file (a folder for HAR)."),
]
_EXTENSIONS = {
    "text": "txt",
    "json": "json",
    "html": "html",
    "junit": "xml",
    "gazelle-json": "json",
    "gazelle-xml": "xml",
}


def _check_options(
    profile: str, select: list[str] | None, ignore: list[str] | None, fmt: str
) -> None:
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    get_profile(profile)
    try:
        resolve(profile, select or (), ignore or ())
    except UnknownRuleError as exc:
        raise InputError(str(exc)) from None


def _read_kos(path: Path | None) -> Kos | None:
    if path is None:
        return None
    return read_kos(path)


def _run(
    ctx: typer.Context,
    exchanges: list[Exchange],
    *,
    profile: str,
    select: list[str] | None,
    ignore: list[str] | None,
    dciodvfy: bool,
    fmt: str,
    output: Path | None,
    kos: Kos | None = None,
) -> int:
    reports: list[Report] = []
    store = state(ctx).store
    for exchange in exchanges:
        report = validate_exchange(
            exchange,
            profile,
            kos=kos,
            select=select or (),
            ignore=ignore or (),
            dciodvfy=dciodvfy,
        )
        exchange_id = save_exchange(store, exchange)
        save_report(store, report, exchange_id=exchange_id)
        reports.append(report)
    _emit(reports, fmt, output)
    return 1 if any(r.verdict is Verdict.FAILED for r in reports) else 0


def _emit(reports: list[Report], fmt: str, output: Path | None) -> None:
    if len(reports) == 1 or output is None:
        if len(reports) > 1 and fmt == "json":
            text = json.dumps(
                [json.loads(render(r, fmt, catalogue=load_all())) for r in reports], indent=2
            )
        else:
            text = "\n".join(render(r, fmt, catalogue=load_all()) for r in reports)
        if output is None:
            console.print(
                text, markup=False, soft_wrap=True, end="" if text.endswith("\n") else "\n"
            )
            return
        _write(output, text)
        console.print(f"{reports[0].verdict.value} {reports[0].subject} -> {output}", markup=False)
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create folder {output}: {exc.strerror}") from None
    for index, report in enumerate(reports):
        target = output / f"entry-{index:03d}.{_EXTENSIONS[fmt]}"
        _write(target, render(report, fmt, catalogue=load_all()))
        console.print(f"{report.verdict.value} {report.subject} -> {target}", markup=False)


def _write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.partial")
    try:
        temp.write_text(text, encoding="utf-8")
        temp.replace(path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


@validate_app.command("request")
def request_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    kos: Annotated[
        Path | None, typer.Option("--kos", help="The KOS the consumer read (Part 10 file).")
    ] = None,
    dciodvfy: DciodvfyOption = False,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> int:
    """Validate a raw HTTP request file (request line, headers, blank line)."""
    _check_options(profile, select, ignore, fmt)
    exchange = load_request(file)
    status = _run(
        ctx,
        [exchange],
        profile=profile,
        select=select,
        ignore=ignore,
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
    dciodvfy: DciodvfyOption = False,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> int:
    """Validate a raw HTTP response file (status line, headers, blank line, body)."""
    _check_options(profile, select, ignore, fmt)
    paired = load_request(request) if request is not None else None
    exchange = load_response(file, paired)
    status = _run(
        ctx,
        [exchange],
        profile=profile,
        select=select,
        ignore=ignore,
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
    kos: Annotated[
        Path | None, typer.Option("--kos", help="The KOS the requests came from (Part 10 file).")
    ] = None,
    dciodvfy: DciodvfyOption = False,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> int:
    """Validate every entry of a HAR 1.2 capture (one report per entry)."""
    _check_options(profile, select, ignore, fmt)
    exchanges = load_har(file)
    if not exchanges:
        fail(f"{file}: the HAR file has no entries")
    if len(exchanges) > 1 and output is None and fmt not in ("text", "json"):
        fail(f"{len(exchanges)} entries give {len(exchanges)} {fmt} reports: give --output FOLDER")
    status = _run(
        ctx,
        exchanges,
        profile=profile,
        select=select,
        ignore=ignore,
        dciodvfy=dciodvfy,
        fmt=fmt,
        output=output,
        kos=_read_kos(kos),
    )
    raise typer.Exit(status)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(validate_app, name="validate")
