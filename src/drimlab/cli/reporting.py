"""What every validating command shares: the rule selection options, the report formats, and
writing reports (atomically) to the terminal, a file or a folder.

Every command that judges something takes the same `--profile`, `--select`, `--ignore` and
`--severity CODE=LEVEL` options and turns them into one `Selection` (an unknown profile, code
or level is a one-line error, exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import console
from drimlab.errors import InputError
from drimlab.validation.assess import Selection
from drimlab.validation.render import FORMATS, render
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import UnknownRuleError, load_all

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
SeverityOption = Annotated[
    list[str] | None,
    typer.Option(
        "--severity",
        help="Override a severity: CODE=error|warning|info (code or prefix; repeatable).",
    ),
]
PixelSampleOption = Annotated[
    int | None,
    typer.Option(
        "--pixel-sample",
        min=0,
        max=100000,
        help="Decode the pixel data of at most N parts per response (0: none). Default: every "
        "part in drim-m, none in dicomweb.",
    ),
]
FormatOption = Annotated[
    str, typer.Option("--format", "-f", help=f"Report format: {', '.join(FORMATS)}.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the report to this file (a folder for several)."),
]
EXTENSIONS = {
    "text": "txt",
    "json": "json",
    "html": "html",
    "junit": "xml",
    "gazelle-json": "json",
    "gazelle-xml": "xml",
}


def selection(
    profile: str,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    severity: list[str] | None = None,
    pixel_sample: int | None = None,
) -> Selection:
    """The Selection the options describe; InputError for an unknown profile, code or level."""
    try:
        return Selection.of(
            profile,
            select=select or (),
            ignore=ignore or (),
            severities=severity or (),
            pixel_sample=pixel_sample,
        )
    except UnknownRuleError as exc:
        raise InputError(str(exc)) from None


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def exit_status(reports: list[Report]) -> int:
    """0 when nothing failed (PASSED or UNDEFINED), 1 when a report FAILED."""
    return 1 if any(r.verdict is Verdict.FAILED for r in reports) else 0


def write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (a partial file never replaces a good one)."""
    temp = path.with_name(f".{path.name}.partial")
    try:
        temp.write_text(text, encoding="utf-8")
        temp.replace(path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def emit(reports: list[Report], fmt: str, output: Path | None, *, folder: bool = True) -> None:
    """Print the reports, or write them to `output`: one file, or a folder for several
    (`folder=False`: several reports one after the other in one file).
    """
    catalogue = load_all()
    if len(reports) == 1 or output is None or not folder:
        if len(reports) > 1 and fmt == "json" and folder:
            text = json.dumps(
                [json.loads(render(r, fmt, catalogue=catalogue)) for r in reports], indent=2
            )
        else:
            text = "\n".join(render(r, fmt, catalogue=catalogue) for r in reports)
        if output is None:
            # written as it is: the renderers made it safe for a terminal, and going through
            # rich's layout would hold many times the text in memory (a HAR of thousands)
            console.file.write(text if text.endswith("\n") else text + "\n")
            console.file.flush()
            return
        write_atomic(output, text)
        for report in reports:
            console.print(f"{report.verdict.value} {report.subject} -> {output}", markup=False)
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create folder {output}: {exc.strerror}") from None
    for index, report in enumerate(reports):
        target = output / f"entry-{index:03d}.{EXTENSIONS[fmt]}"
        write_atomic(target, render(report, fmt, catalogue=catalogue))
        console.print(f"{report.verdict.value} {report.subject} -> {target}", markup=False)
