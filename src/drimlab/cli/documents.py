"""`drimlab validate kos|xds|cross|xdm`: validate the DRIM-M documents around the exchange.

Same options and exit statuses as the other `validate` commands: 0 PASSED (or UNDEFINED),
1 FAILED, 2 unusable input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import fail, state
from drimlab.cli.reporting import (
    FormatOption,
    IgnoreOption,
    OutputOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    check_format,
    emit,
    exit_status,
    selection,
)
from drimlab.cli.validate import FileArgument, validate_app
from drimlab.dciodvfy import checker
from drimlab.store.records import save_report
from drimlab.validation.report import Report


def _finish(ctx: typer.Context, report: Report, kind: str, fmt: str, output: Path | None) -> int:
    save_report(state(ctx).store, report, kind=kind)
    emit([report], fmt, output)
    return exit_status([report])


def kos_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> None:
    """Validate a KOS manifest (Part 10 file): dciodvfy IOD check plus the DRIM-M KOS rules."""
    from drimlab.validation.documents import validate_kos  # noqa: PLC0415 - pydicom-heavy

    check_format(fmt)
    chosen = selection(profile, select, ignore, severity)
    report = validate_kos(file, chosen, checker=checker())
    raise typer.Exit(_finish(ctx, report, "kos", fmt, output))


def xds_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> None:
    """Validate the XDS metadata of a KOS: ProvideAndRegisterDocumentSet-b (SOAP or bare)."""
    from drimlab.validation.documents import validate_xds  # noqa: PLC0415 - on demand

    check_format(fmt)
    chosen = selection(profile, select, ignore, severity)
    report = validate_xds(file, chosen)
    raise typer.Exit(_finish(ctx, report, "xds", fmt, output))


def cross_command(
    ctx: typer.Context,
    *,
    kos: Annotated[Path, typer.Option("--kos", help="The KOS manifest (Part 10 file).")],
    xds: Annotated[
        Path | None, typer.Option("--xds", help="Its XDS metadata (PnR message).")
    ] = None,
    cda: Annotated[Path | None, typer.Option("--cda", help="The exam's report (CDA R2).")] = None,
    image: Annotated[
        list[Path] | None,
        typer.Option(
            "--image",
            help="An image of the exam, or a folder of them (every DICOM file under it that is "
            "not a KOS); repeatable.",
        ),
    ] = None,
    hl7: Annotated[
        Path | None, typer.Option("--hl7", help="The HL7 v2 report message (ORU^R01).")
    ] = None,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> None:
    """Check that the KOS, XDS metadata, CDA, HL7 v2 report and images tell the same exam."""
    from drimlab.validation.documents import validate_cross  # noqa: PLC0415 - pydicom-heavy

    check_format(fmt)
    chosen = selection(profile, select, ignore, severity)
    report = validate_cross(
        kos,
        xds=xds,
        cda=cda,
        images=_images(image or (), kos),
        profile=chosen,
        hl7=hl7,
    )
    raise typer.Exit(_finish(ctx, report, "cross", fmt, output))


def _images(given: Sequence[Path], kos: Path) -> list[Path]:
    """The image files: each file given, and the DICOM files under each folder given."""
    from pydicom import dcmread  # noqa: PLC0415 - pydicom-heavy
    from pydicom.errors import InvalidDicomError  # noqa: PLC0415

    from drimlab.documents.kos import is_manifest  # noqa: PLC0415

    found: list[Path] = []
    for path in given:
        if not path.is_dir():
            found.append(path)  # read (and refused if unusable) by the validator
            continue
        before = len(found)
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            if member.resolve() == kos.resolve():
                continue
            try:
                header = dcmread(member, stop_before_pixels=True)
            except (InvalidDicomError, OSError, ValueError, EOFError):
                continue  # not DICOM: not an image of the exam
            if not is_manifest(header):
                found.append(member)
        if len(found) == before:
            fail(f"{path}: no DICOM image in this folder")
    return found


def xdm_command(
    ctx: typer.Context,
    file: FileArgument,
    *,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    fmt: FormatOption = "text",
    output: OutputOption = None,
) -> None:
    """Validate an IHE XDM export (ZIP): layout, integrity, XDS metadata, KOS, cross-checks."""
    from drimlab.validation.documents import validate_xdm  # noqa: PLC0415 - pydicom-heavy

    check_format(fmt)
    chosen = selection(profile, select, ignore, severity)
    report = validate_xdm(file, chosen, checker=checker())
    raise typer.Exit(_finish(ctx, report, "xdm", fmt, output))


def register(app: typer.Typer) -> None:
    """Add the document commands to the `validate` group (registered by `cli.validate`)."""
    del app  # the group object is shared: commands join it wherever it is mounted
    if any(c.name == "kos" for c in validate_app.registered_commands):
        return
    validate_app.command("kos")(kos_command)
    validate_app.command("xds")(xds_command)
    validate_app.command("cross")(cross_command)
    validate_app.command("xdm")(xdm_command)
