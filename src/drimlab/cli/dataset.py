"""`drimlab dataset`: list, show, generate and import exams; export and read KOS manifests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydicom.uid import UID, ExplicitVRLittleEndian
from rich.progress import BarColumn, MofNCompleteColumn, TaskProgressColumn, TextColumn
from rich.progress import Progress as RichProgress

from drimlab.cli._common import check_writable, console, err_console, fail, state
from drimlab.datasets import catalog
from drimlab.datasets.catalog import KosInfo
from drimlab.datasets.export import export_exam
from drimlab.datasets.import_source import import_path
from drimlab.datasets.importer import ImportSummary
from drimlab.datasets.staging import Progress
from drimlab.datasets.synthetic import DATASET_NAMES
from drimlab.documents.kos import Kos, read_kos

dataset_app = typer.Typer(
    help="Test datasets: exams, their files and their DRIM-M KOS.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ExamArgument = Annotated[str, typer.Argument(help="Exam name or Study Instance UID.")]


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A Rich progress display on stderr, fed by the catalogue's progress callback."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
    )
    with RichProgress(
        *columns, console=err_console, transient=True, disable=not err_console.is_terminal
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield update


def _syntax(uid: str) -> str:
    keyword = UID(uid).keyword
    return f"{uid} ({keyword})" if keyword else uid


def _kos_dict(kos: catalog.KosInfo) -> dict[str, Any]:
    return {
        "sop_instance_uid": kos.sop_instance_uid,
        "origin": kos.origin,
        "retrieve_base_url": kos.retrieve_base_url,
        "path": str(kos.path),
        "sha256": kos.sha256,
    }


def _exam_dict(exam: catalog.ExamInfo) -> dict[str, Any]:
    return {
        "name": exam.name,
        "dataset": exam.dataset,
        "origin": exam.origin,
        "description": exam.study_description,
        "patient_name": exam.patient_name,
        "patient_id": exam.patient_id,
        "issuer_of_patient_id": exam.issuer_of_patient_id,
        "accession_number": exam.accession_number,
        "accession_issuer": exam.accession_issuer,
        "study_date": exam.study_date,
        "study_instance_uid": exam.study_instance_uid,
        "series_count": exam.series_count,
        "instance_count": exam.instance_count,
        "transfer_syntaxes": list(exam.transfer_syntaxes),
        "kos_sop_instance_uid": exam.kos.sop_instance_uid if exam.kos else None,
        "manifests": [_kos_dict(k) for k in exam.manifests],
        "files": str(exam.root_dir),
    }


def _series_dict(series: catalog.SeriesInfo) -> dict[str, Any]:
    return {
        "series_instance_uid": series.series_instance_uid,
        "series_number": series.series_number,
        "modality": series.modality,
        "description": series.description,
        "instance_count": len(series.instances),
        "instances": [
            {
                "sop_instance_uid": i.sop_instance_uid,
                "sop_class_uid": i.sop_class_uid,
                "instance_number": i.instance_number,
                "number_of_frames": i.number_of_frames,
                "transfer_syntaxes": list(i.transfer_syntaxes),
            }
            for i in series.instances
        ],
    }


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _line(label: str, value: str) -> None:
    console.print(f"  {label:<10} {value}", markup=False, soft_wrap=True)


def _print_exam(exam: catalog.ExamInfo) -> None:
    console.print(
        f"{exam.name}  ({exam.dataset}, {exam.origin})  {exam.study_description}",
        markup=False,
        soft_wrap=True,
    )
    issuer = f" ({exam.issuer_of_patient_id})" if exam.issuer_of_patient_id else ""
    _line("patient", f"{exam.patient_name}  INS {exam.patient_id}{issuer}")
    accession = exam.accession_number or "-"
    _line("accession", accession + (f" ({exam.accession_issuer})" if exam.accession_issuer else ""))
    _line("study", exam.study_instance_uid)
    _line("content", f"{exam.series_count} series, {exam.instance_count} instances")
    _line("syntaxes", ", ".join(_syntax(ts) for ts in exam.transfer_syntaxes))
    _line("KOS", exam.kos.sop_instance_uid if exam.kos else "-")
    _line("files", str(exam.root_dir))


def _ensure_default(ctx: typer.Context) -> None:
    st = state(ctx)
    with progress_bar() as progress:
        catalog.ensure_default_dataset(st.store, st.settings, progress=progress)


def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the exams (patient, INS, accession, study UID, counts, encodings, KOS UID)."""
    _ensure_default(ctx)
    exams = catalog.list_exams(state(ctx).store)
    if as_json:
        _echo_json([_exam_dict(e) for e in exams])
        return
    for index, exam in enumerate(exams):
        if index:
            console.print()
        _print_exam(exam)


def show_command(ctx: typer.Context, exam: ExamArgument, as_json: JsonOption = False) -> None:
    """Show one exam: its series (UIDs, modality, counts) and its KOS with its WADO-RS base."""
    _ensure_default(ctx)
    store = state(ctx).store
    info = catalog.get_exam(store, exam)
    series = catalog.exam_series(store, info.name)
    if as_json:
        _echo_json({**_exam_dict(info), "series": [_series_dict(s) for s in series]})
        return
    _print_exam(info)
    for s in series:
        number = "-" if s.series_number is None else str(s.series_number)
        console.print(
            f"  series {number:>3}  {s.modality:<3} {len(s.instances):>4} instances  "
            f"{s.series_instance_uid}  {s.description}",
            markup=False,
            soft_wrap=True,
        )
    for kos in info.manifests:
        console.print(
            f"  KOS {kos.sop_instance_uid}  ({kos.origin})  base {kos.retrieve_base_url or '-'}",
            markup=False,
            soft_wrap=True,
        )
    console.print(
        f"  (to load it into your own PACS or DRIMBox: drimlab dataset export {info.name} DIR)",
        markup=False,
        soft_wrap=True,
    )


def generate_command(
    ctx: typer.Context,
    dataset_name: Annotated[
        str, typer.Option("--set", help=f"Built-in dataset: {' | '.join(DATASET_NAMES)}.")
    ] = catalog.DEFAULT_DATASET,
) -> None:
    """Generate a built-in synthetic dataset (pre-encoded, with KOS); present exams are kept."""
    if dataset_name not in DATASET_NAMES:
        fail(f"unknown dataset {dataset_name!r} (known: {', '.join(DATASET_NAMES)})")
    st = state(ctx)
    with progress_bar() as progress:
        made = catalog.generate_dataset(st.store, st.settings, dataset_name, progress=progress)
    if not made:
        console.print(f"dataset {dataset_name}: every exam is already present", markup=False)
        return
    names = ", ".join(e.name for e in made)
    console.print(f"dataset {dataset_name}: generated {len(made)} exam(s): {names}", markup=False)


def _print_import(report: ImportSummary) -> None:
    for exam in report.imported:
        console.print(
            f"imported {exam.name}: study {exam.study_instance_uid}, {exam.series_count} series,"
            f" {exam.instance_count} instances, KOS {exam.kos_sop_instance_uid}"
            f" ({exam.kos_origin})",
            markup=False,
            soft_wrap=True,
        )
    for skipped in report.skipped:
        console.print(f"skipped {skipped.path}: {skipped.reason}", markup=False, soft_wrap=True)
    for refused in report.refused:
        console.print(f"refused {refused}", markup=False, soft_wrap=True)
    shown = 10
    for note in report.notes[:shown]:
        console.print(f"note {note}", markup=False, soft_wrap=True)
    if len(report.notes) > shown:
        console.print(f"note ... and {len(report.notes) - shown} more", markup=False)


BaseUrlOption = Annotated[
    str | None,
    typer.Option("--base-url", help="Build (and register) a KOS for this WADO-RS base."),
]


def import_command(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="A DICOM file, a folder of them (searched recursively) or a zip."
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Exam name (suffixed -1, -2... per study).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import DICOM files (a file, a folder or a zip), grouped by study; a missing KOS is built."""
    st = state(ctx)
    with progress_bar() as progress:
        report = import_path(st.store, st.settings, source, name=name, progress=progress)
    if as_json:
        _echo_json(
            {
                "source": str(report.source),
                "imported": [e.__dict__ for e in report.imported],
                "skipped": [{"path": str(s.path), "reason": s.reason} for s in report.skipped],
                "refused": list(report.refused),
                "notes": list(report.notes),
            }
        )
    else:
        _print_import(report)
    if not report.imported:
        reason = report.refused[0] if report.refused else "no usable DICOM file found"
        fail(f"nothing imported from {source}: {reason}")


def export_command(
    ctx: typer.Context,
    exam: ExamArgument,
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="A new (or empty) folder to write the files to.")
    ],
    syntax: Annotated[
        str | None,
        typer.Option(
            "--syntax", help="Transfer syntax UID of the files (default 1.2.840.10008.1.2.1)."
        ),
    ] = None,
    kos: Annotated[bool, typer.Option("--kos/--no-kos", help="Write the exam's KOS too.")] = True,
    base_url: BaseUrlOption = None,
) -> None:
    """Write an exam's files to DIR, to load them into your own PACS or DRIMBox source."""
    _ensure_default(ctx)
    st = state(ctx)
    done = export_exam(
        st.store, st.settings, exam, directory, transfer_syntax=syntax, with_kos=kos,
        base_url=base_url,
    )  # fmt: skip
    kos_text = f", KOS {done.kos.sop_instance_uid}" if done.kos is not None else ""
    console.print(
        f"{done.exam}: {done.series} series, {done.instances} instances in "
        f"{_syntax(done.transfer_syntax)}{kos_text} -> {done.target}",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        "load them into the source under test, then: drimlab scenario run "
        f"DRIM-M_SO_REPONSE_WADO -i exam={done.exam} -i base_url=https://YOUR-SOURCE/dicom-web",
        markup=False,
        soft_wrap=True,
    )


def _writable(file: Path) -> None:
    check_writable(file)


def _exam_kos(ctx: typer.Context, exam: str, base_url: str | None) -> tuple[str, KosInfo]:
    """The exam's name and its KOS (with a base URL: a KOS built for that WADO-RS base)."""
    _ensure_default(ctx)
    st = state(ctx)
    info = catalog.get_exam(st.store, exam)
    if base_url is None and info.kos is not None:
        return info.name, info.kos
    base = base_url if base_url is not None else st.settings.wado_base_url
    return info.name, catalog.kos_for_base(st.store, st.settings, info.name, base)


def export_kos_command(
    ctx: typer.Context,
    exam: ExamArgument,
    file: Annotated[Path, typer.Argument(help="Where to write the KOS (a .dcm file).")],
    base_url: BaseUrlOption = None,
) -> None:
    """Write an exam's KOS to FILE (with --base-url: a KOS pointing at that WADO-RS base)."""
    _writable(file)
    name, kos = _exam_kos(ctx, exam, base_url)
    shutil.copyfile(kos.path, file)
    if (kos.retrieve_base_url or "").lower().startswith("http://"):
        err_console.print(
            f"drimlab: warning: the KOS's Retrieve URLs are plain {kos.retrieve_base_url}: "
            "DRIM-M exchanges are TLS (validate kos reports it as KOS-013)",
            markup=False,
            soft_wrap=True,
        )
    console.print(
        f"KOS {kos.sop_instance_uid} of {name} (base {kos.retrieve_base_url}) -> {file}",
        markup=False,
        soft_wrap=True,
    )


def _summary_dict(summary: Kos) -> dict[str, Any]:
    return {
        "sop_instance_uid": summary.sop_instance_uid,
        "study_instance_uid": summary.study_instance_uid,
        "patient_id": summary.patient_id,
        "issuer_of_patient_id": summary.issuer_of_patient_id,
        "accession_number": summary.accession_number,
        "accession_issuer": summary.accession_issuer.name,
        "base_url": summary.base_url,
        "series": [
            {
                "series_instance_uid": s.series_instance_uid,
                "retrieve_url": s.retrieve_url,
                "instances": [
                    {"sop_class_uid": r.sop_class_uid, "sop_instance_uid": r.sop_instance_uid}
                    for r in s.instances
                ],
            }
            for s in summary.series
        ],
        "problems": list(summary.problems),
    }


def read_kos_command(
    file: Annotated[Path, typer.Argument(help="A KOS manifest (DICOM Part 10 file).")],
    as_json: JsonOption = False,
) -> None:
    """Read any KOS manifest: study, patient, series with their Retrieve URLs, WADO-RS base."""
    summary = read_kos(file)
    if as_json:
        _echo_json(_summary_dict(summary))
        return
    console.print(f"KOS {summary.sop_instance_uid}", markup=False, soft_wrap=True)
    _line("study", summary.study_instance_uid)
    _line("patient", f"{summary.patient_id} ({summary.issuer_of_patient_id or '-'})")
    _line("accession", summary.accession_number or "-")
    _line("base", summary.base_url or "-")
    for s in summary.series:
        _line("series", f"{s.series_instance_uid}  {len(s.instances)} instances")
        _line("", s.retrieve_url or "(no Retrieve URL)")
    for problem in summary.problems:
        _line("problem", problem)


def export_xdm_command(
    ctx: typer.Context,
    exam: ExamArgument,
    file: Annotated[Path, typer.Argument(help="Where to write the archive (a .zip file).")],
    base_url: BaseUrlOption = None,
    images: Annotated[
        bool, typer.Option("--images/--no-images", help="Put the exam's images in it too.")
    ] = True,
) -> None:
    """Write an IHE XDM export of an exam: its KOS listed in METADATA.XML, and its images."""
    from drimlab.documents.xdm import build_xdm  # noqa: PLC0415 - lxml and zip on demand

    _writable(file)
    name, kos = _exam_kos(ctx, exam, base_url)
    paths = []
    if images:
        for series in catalog.exam_series(state(ctx).store, name):
            for instance in series.instances:
                stored = instance.file(ExplicitVRLittleEndian) or instance.files[0]
                paths.append(stored.path)
    build_xdm(kos.path, paths, file)
    console.print(
        f"XDM of {name}: KOS {kos.sop_instance_uid}, {len(paths)} images -> {file}",
        markup=False,
        soft_wrap=True,
    )


def export_pnr_command(
    ctx: typer.Context,
    exam: ExamArgument,
    file: Annotated[Path, typer.Argument(help="Where to write the SOAP message (.xml).")],
    base_url: BaseUrlOption = None,
) -> None:
    """Write the DMP submission of an exam's KOS: a ProvideAndRegisterDocumentSet-b message."""
    from drimlab.documents.xds_build import provide_and_register  # noqa: PLC0415

    _writable(file)
    name, kos = _exam_kos(ctx, exam, base_url)
    file.write_bytes(provide_and_register(read_kos(kos.path).dataset))
    console.print(
        f"ProvideAndRegisterDocumentSet-b of {name} (KOS {kos.sop_instance_uid}) -> {file}",
        markup=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    dataset_app.command("list")(list_command)
    dataset_app.command("show")(show_command)
    dataset_app.command("generate")(generate_command)
    dataset_app.command("import")(import_command)
    dataset_app.command("export")(export_command)
    dataset_app.command("export-kos")(export_kos_command)
    dataset_app.command("read-kos")(read_kos_command)
    dataset_app.command("export-xdm")(export_xdm_command)
    dataset_app.command("export-pnr")(export_pnr_command)
    app.add_typer(dataset_app, name="dataset")
