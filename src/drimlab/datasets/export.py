"""Writing an exam's files out, to load them into one's own PACS or DRIMBox source.

    export_exam(store, settings, "ct-thorax-abdo", Path("out"))
    # out/<SeriesInstanceUID>/<SOPInstanceUID>.dcm for every instance, out/kos/<uid>.dcm

Every instance is written in one transfer syntax (Explicit VR Little Endian unless another is
asked for and every instance has it), with the exam's KOS beside them. The folder is written
whole or not at all: files go to a hidden sibling first, renamed into place at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import UID, ExplicitVRLittleEndian

from drimlab.config import Settings
from drimlab.datasets.catalog import KosInfo, StoredFile, exam_series, get_exam, kos_for_base
from drimlab.errors import InputError
from drimlab.store import Store

KOS_FOLDER = "kos"


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    exam: str
    target: Path
    transfer_syntax: str
    series: int
    instances: int
    kos: KosInfo | None


def _syntax_label(uid: str) -> str:
    keyword = UID(uid).keyword
    return f"{uid} ({keyword})" if keyword else uid


def _target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "a folder that is not empty" if target.is_dir() else "a file"
        raise InputError(f"{target}: is {what}; give a new or empty folder")
    if not target.parent.is_dir():
        raise InputError(f"{target}: folder {target.parent} does not exist")


def export_exam(
    store: Store,
    settings: Settings,
    key: str,
    target: Path,
    *,
    transfer_syntax: str | None = None,
    with_kos: bool = True,
    base_url: str | None = None,
) -> ExportSummary:
    """Write the exam's instances (one syntax) and its KOS into the new folder `target`."""
    _target(target)
    exam = get_exam(store, key)
    wanted = transfer_syntax or ExplicitVRLittleEndian
    series = exam_series(store, exam.name)
    files: list[tuple[str, str, StoredFile]] = []
    lacking = 0
    for item in series:
        for instance in item.instances:
            found = instance.file(wanted)
            if found is None:
                lacking += 1
                continue
            files.append((item.series_instance_uid, instance.sop_instance_uid, found))
    if lacking:
        common = set(exam.transfer_syntaxes)
        for item in series:
            for instance in item.instances:
                common &= set(instance.transfer_syntaxes)
        offered = ", ".join(_syntax_label(s) for s in sorted(common)) or "none"
        raise InputError(
            f"exam {exam.name}: {lacking} instance(s) have no {_syntax_label(wanted)} copy "
            f"(every instance has: {offered})"
        )
    kos = None
    if with_kos:
        kos = exam.kos if base_url is None else kos_for_base(store, settings, exam.name, base_url)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for series_uid, sop_uid, stored in files:
            path = partial / series_uid / f"{sop_uid}.dcm"
            path.parent.mkdir(exist_ok=True)
            shutil.copyfile(stored.path, path)
        if kos is not None:
            (partial / KOS_FOLDER).mkdir()
            shutil.copyfile(kos.path, partial / KOS_FOLDER / f"{kos.sop_instance_uid}.dcm")
        if target.exists():
            target.rmdir()  # empty: checked above
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportSummary(exam.name, target, wanted, len(series), len(files), kos)
