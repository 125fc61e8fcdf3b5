"""Adding exams to the catalogue without ever leaving anything half-done.

Files are written to a staging directory under the home (the same file system as the
datasets), rows are flushed in one transaction, the exam directories are renamed into
place, then the transaction commits; any failure removes what was moved and rolls back.
Writers of the datasets directory are serialised across processes by a file lock.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from pydicom import Dataset, dcmread

from drimlab.config import Settings
from drimlab.datasets.encodings import encode_file
from drimlab.datasets.kos_build import build_kos, write_kos
from drimlab.datasets.workers import die_with_parent
from drimlab.documents.kos import read_kos
from drimlab.errors import StoreError
from drimlab.locks import hold_file_lock
from drimlab.store import Store
from drimlab.store.catalog import (
    ExamEntry,
    FileRow,
    InstanceEntry,
    ManifestEntry,
    SeriesEntry,
    registering_exams,
)

KOS_DIR = "kos"
STAGING_DIR = ".staging"
_INLINE_JOBS = 8

Progress = Callable[[str, int, int], None]
"""A progress callback: (stage label, units done so far, total units of that stage)."""


@dataclass
class StagedInstance:
    """An instance written to the staging area: its header and its files by transfer syntax."""

    header: Dataset
    files: dict[str, Path] = field(default_factory=dict)  # relative to the exam's staging dir


@dataclass
class StagedExam:
    """An exam fully written under a staging directory, ready to be moved and registered."""

    name: str
    dataset: str
    origin: str
    directory: Path
    instances: list[StagedInstance] = field(default_factory=list)
    manifests: list[tuple[Path, str]] = field(default_factory=list)  # (relative path, origin)


def read_header(path: Path) -> Dataset:
    """The header of a Part 10 file, without its pixel data."""
    return dcmread(path, stop_before_pixels=True)


@contextmanager
def dataset_lock(store: Store) -> Iterator[None]:
    """Serialise writers of the datasets across processes (`Store.lock`: a file lock, and a
    PostgreSQL advisory lock for a PostgreSQL store), then sweep what killed writers left."""
    with store.lock("datasets"):
        sweep_staging(store.settings)
        yield


def staging_root(settings: Settings) -> Path:
    return settings.home / STAGING_DIR


def sweep_staging(settings: Settings) -> list[Path]:
    """Remove the staging folders whose writer is gone (killed, or crashed); return them.

    Each live staging folder `<uuid>` is marked by its writer's lock on `<uuid>.lock`, which
    the kernel releases when the writer dies, even by SIGKILL.
    """
    root = staging_root(settings)
    if not root.is_dir():
        return []
    swept = []
    for entry in sorted(root.iterdir()):
        if entry.suffix == ".lock":
            if not entry.with_suffix("").exists():
                _remove_if_unowned(entry, entry)
            continue
        if _remove_if_unowned(entry.with_name(entry.name + ".lock"), entry):
            swept.append(entry)
    return swept


def _remove_if_unowned(lock: Path, target: Path) -> bool:
    release = hold_file_lock(lock)
    if release is None:
        return False  # its writer is alive
    try:
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
    finally:
        release()
    return True


@contextmanager
def staging_area(settings: Settings) -> Iterator[Path]:
    """A fresh directory under the home (same file system as the datasets), always removed;
    held by a lock while it lives, so a later `sweep_staging` knows when its writer died."""
    root = staging_root(settings)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = root / uuid.uuid4().hex
    lock = path.with_name(path.name + ".lock")
    release = hold_file_lock(lock)
    if release is None:  # pragma: no cover - a fresh uuid is never held
        raise StoreError(f"staging folder {path} is already in use")
    try:
        path.mkdir()
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        lock.unlink(missing_ok=True)
        release()


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        return int(str(ds.get(keyword)))
    except (TypeError, ValueError):
        return None


def _issuer(ds: Dataset) -> str:
    items = ds.get("IssuerOfAccessionNumberSequence") or []
    if not items:
        return ""
    return _text(items[0], "LocalNamespaceEntityID") or _text(items[0], "UniversalEntityID")


def _file_row(staged: StagedExam, settings: Settings, ts: str, relative: Path) -> FileRow:
    staged_path = staged.directory / relative
    root = settings.datasets_dir / staged.name
    return FileRow(
        transfer_syntax_uid=ts,
        path=str((root / relative).relative_to(settings.home)),
        size=staged_path.stat().st_size,
        sha256=sha256_of(staged_path),
    )


def _instance_entry(staged: StagedExam, settings: Settings, item: StagedInstance) -> InstanceEntry:
    header = item.header
    return InstanceEntry(
        sop_instance_uid=_text(header, "SOPInstanceUID"),
        sop_class_uid=_text(header, "SOPClassUID"),
        instance_number=_int(header, "InstanceNumber"),
        number_of_frames=_int(header, "NumberOfFrames") or 1,
        rows=_int(header, "Rows"),
        columns=_int(header, "Columns"),
        files=tuple(
            _file_row(staged, settings, ts, relative) for ts, relative in sorted(item.files.items())
        ),
    )


def _manifest_entry(
    staged: StagedExam, settings: Settings, relative: Path, origin: str
) -> ManifestEntry:
    summary = read_kos(staged.directory / relative)
    root = settings.datasets_dir / staged.name
    return ManifestEntry(
        sop_instance_uid=summary.sop_instance_uid,
        origin=origin,
        retrieve_base_url=summary.base_url,
        path=str((root / relative).relative_to(settings.home)),
        sha256=sha256_of(staged.directory / relative),
    )


def _exam_entry(staged: StagedExam, settings: Settings) -> ExamEntry:
    head = staged.instances[0].header
    root = settings.datasets_dir / staged.name
    # series in the order their first instance was staged; each described by that instance
    by_series: dict[str, tuple[Dataset, list[InstanceEntry]]] = {}
    for item in staged.instances:
        series_uid = _text(item.header, "SeriesInstanceUID")
        by_series.setdefault(series_uid, (item.header, []))[1].append(
            _instance_entry(staged, settings, item)
        )
    return ExamEntry(
        name=staged.name,
        dataset=staged.dataset,
        origin=staged.origin,
        study_instance_uid=_text(head, "StudyInstanceUID"),
        patient_name=_text(head, "PatientName"),
        patient_id=_text(head, "PatientID"),
        issuer_of_patient_id=_text(head, "IssuerOfPatientID"),
        patient_birth_date=_text(head, "PatientBirthDate"),
        patient_sex=_text(head, "PatientSex"),
        accession_number=_text(head, "AccessionNumber"),
        accession_issuer=_issuer(head),
        study_date=_text(head, "StudyDate"),
        study_time=_text(head, "StudyTime"),
        study_description=_text(head, "StudyDescription"),
        institution_name=_text(head, "InstitutionName"),
        root_dir=str(root.relative_to(settings.home)),
        series=tuple(
            SeriesEntry(
                series_instance_uid=series_uid,
                modality=_text(first, "Modality"),
                series_number=_int(first, "SeriesNumber"),
                description=_text(first, "SeriesDescription"),
                instances=tuple(members),
            )
            for series_uid, (first, members) in by_series.items()
        ),
        manifests=tuple(
            _manifest_entry(staged, settings, relative, origin)
            for relative, origin in staged.manifests
        ),
    )


def commit_staged(
    store: Store, settings: Settings, staged: Sequence[StagedExam]
) -> list[ExamEntry]:
    """Register staged exams in one transaction and move their directories into place."""
    moved: list[Path] = []
    try:
        entries = [_exam_entry(exam, settings) for exam in staged]
        with registering_exams(store, entries):
            for exam in staged:
                final = settings.datasets_dir / exam.name
                if final.exists():
                    # Under the dataset lock and without a row, it is debris of a crash.
                    shutil.rmtree(final)
                final.parent.mkdir(parents=True, exist_ok=True)
                exam.directory.rename(final)
                moved.append(final)
    except BaseException:
        for path in moved:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return entries


def run_encodings(jobs: Sequence[tuple[Path, str, Path]], progress: Progress | None) -> None:
    """Encode files (source, transfer syntax, destination) on a pool of two processes."""
    for _, _, dest in jobs:
        dest.parent.mkdir(parents=True, exist_ok=True)
    if len(jobs) <= _INLINE_JOBS:
        # Starting two interpreters costs more than a handful of small encodings.
        for done, (src, ts, dest) in enumerate(jobs, start=1):
            encode_file(src, ts, dest)
            if progress is not None:
                progress("encoding", done, len(jobs))
        return
    # spawn: the parent holds database connections and threads that must not be forked.
    # Workers end with this process, even when it is killed (`workers.die_with_parent`).
    with ProcessPoolExecutor(
        max_workers=2,
        mp_context=get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(encode_file, src, ts, dest) for src, ts, dest in jobs]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                future.result()
                if progress is not None:
                    progress("encoding", done, len(jobs))
        except BrokenProcessPool as exc:
            raise StoreError(f"an encoding worker process died: {exc}") from exc
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def add_built_kos(staged: StagedExam, base_url: str) -> Path:
    """Build the exam's KOS from its staged headers and write it under `kos/`."""
    kos = build_kos((i.header for i in staged.instances), base_url)
    relative = Path(KOS_DIR) / f"{kos.SOPInstanceUID}.dcm"
    write_kos(kos, staged.directory / relative)
    staged.manifests.append((relative, "built"))
    return relative
