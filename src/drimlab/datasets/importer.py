"""Importing a folder of DICOM files (any layout, e.g. the ANS one) as catalogued exams.

Files are grouped by study. Files that are not DICOM or are damaged are listed with a
one-line reason and skipped. A KOS manifest found among the files is kept and linked to its
exam ("imported"); an exam without one gets a KOS built for it ("built"). Each instance is
stored as it came and, when it is not already, in Explicit VR Little Endian too.
Everything is staged and registered in one transaction (see `staging`).
"""

from __future__ import annotations

import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian, MediaStorageDirectoryStorage

from drimlab.config import Settings
from drimlab.datasets.staging import (
    KOS_DIR,
    Progress,
    StagedExam,
    StagedInstance,
    add_built_kos,
    commit_staged,
    dataset_lock,
    staging_area,
)
from drimlab.documents.kos import is_manifest, read_kos
from drimlab.errors import InputError
from drimlab.store import Store
from drimlab.store.catalog import exam_names, find_clash

IMPORTED_DATASET = "imported"
_UNDEFINED_LENGTH = 0xFFFFFFFF
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REQUIRED = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


@dataclass(frozen=True)
class SkippedFile:
    """A file the import left out, and why (one line)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class ImportedExam:
    """An exam the import registered."""

    name: str
    study_instance_uid: str
    series_count: int
    instance_count: int
    kos_sop_instance_uid: str
    kos_origin: str


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: exams registered, files skipped, studies refused, remarks."""

    source: Path
    imported: tuple[ImportedExam, ...]
    skipped: tuple[SkippedFile, ...]
    refused: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass
class _Found:
    """A readable DICOM file and its header (pixel data dropped)."""

    path: Path
    header: Dataset
    transfer_syntax: str


@dataclass
class _Study:
    uid: str
    instances: list[_Found] = field(default_factory=list)
    manifests: list[_Found] = field(default_factory=list)


def _truncation(ds: Dataset) -> str | None:
    """Why a freshly read dataset looks cut short, if it does (checked before any access)."""
    tags = sorted(ds.keys())
    if not tags:
        return "no data element"
    raw = ds.get_item(tags[-1])
    if (
        isinstance(raw, RawDataElement)
        and raw.length != _UNDEFINED_LENGTH
        and raw.value is not None
        and len(raw.value) < raw.length
    ):
        return f"truncated: {tags[-1]} holds {len(raw.value)} of {raw.length} bytes"
    return None


def _native_pixel_shortfall(ds: Dataset) -> str | None:
    if "PixelData" not in ds or ds.file_meta.TransferSyntaxUID.is_compressed:
        return None
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
        expected = (
            int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * int(ds.BitsAllocated) // 8
        ) * frames
    except (AttributeError, TypeError, ValueError):
        return None
    actual = len(ds.PixelData)
    if actual < expected:
        return f"truncated pixel data ({actual} of {expected} bytes)"
    return None


def read_candidate(path: Path) -> _Found | SkippedFile:
    """Read one file fully; a file that is not usable DICOM becomes a SkippedFile."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = dcmread(path)
            cut = _truncation(ds)
            if ds.file_meta.get("MediaStorageSOPClassUID") == MediaStorageDirectoryStorage:
                return SkippedFile(path, "a DICOMDIR (index of a media), not an instance")
            if cut is None:
                missing = [k for k in _REQUIRED if not ds.get(k)]
                if missing:
                    return SkippedFile(path, f"DICOM file without {', '.join(missing)}")
                cut = _native_pixel_shortfall(ds)
    except InvalidDicomError:
        return SkippedFile(path, "not a DICOM file (no DICM prefix after the preamble)")
    except Exception as exc:  # pydicom raises many types on damaged input
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return SkippedFile(path, f"unreadable DICOM file ({first})")
    eof = [w for w in caught if "end of file" in str(w.message).lower()]
    if cut is None and eof:
        cut = f"truncated: {str(eof[0].message).splitlines()[0]}"
    if cut is not None:
        return SkippedFile(path, cut)
    if "PixelData" in ds:
        del ds.PixelData
    return _Found(path, ds, str(ds.file_meta.TransferSyntaxUID))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "exam"


def _write_explicit(source: Path, dest: Path) -> str | None:
    """Write `source` again in Explicit VR Little Endian; the reason when it cannot be."""
    try:
        ds = dcmread(source)
        syntax = UID(ds.file_meta.TransferSyntaxUID)
        if syntax.is_compressed:
            ds.decompress(generate_instance_uid=False)
        elif not syntax.is_little_endian:
            return "big endian data is not converted"
        else:
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        dest.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(dest, enforce_file_format=True, implicit_vr=False, little_endian=True)
    except Exception as exc:  # a missing codec or damaged pixel data
        dest.unlink(missing_ok=True)
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def _check_manifest(study: _Study, found: _Found, notes: list[str]) -> bool:
    try:
        summary = read_kos(found.path)
    except InputError as exc:
        notes.append(f"{exc}; a KOS is built instead")
        return False
    imported = {str(f.header.SOPInstanceUID) for f in study.instances}
    referenced = {ref.sop_instance_uid for s in summary.series for ref in s.instances}
    if referenced - imported:
        notes.append(
            f"KOS {summary.sop_instance_uid} references {len(referenced - imported)}"
            " instance(s) not found in the folder"
        )
    if imported - referenced:
        notes.append(
            f"KOS {summary.sop_instance_uid} does not reference {len(imported - referenced)}"
            " imported instance(s)"
        )
    return True


def _stage_study(
    study: _Study, name: str, stage: Path, base_url: str, notes: list[str]
) -> StagedExam:
    staged = StagedExam(name, IMPORTED_DATASET, "imported", stage / name)
    for found in study.instances:
        header = found.header
        tail = Path(str(header.SeriesInstanceUID)) / f"{header.SOPInstanceUID}.dcm"
        own = Path(found.transfer_syntax) / tail
        (staged.directory / own).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found.path, staged.directory / own)
        files = {found.transfer_syntax: own}
        if found.transfer_syntax != ExplicitVRLittleEndian:
            explicit = Path(ExplicitVRLittleEndian) / tail
            problem = _write_explicit(found.path, staged.directory / explicit)
            if problem is None:
                files[ExplicitVRLittleEndian] = explicit
            else:
                notes.append(f"{found.path}: kept as {found.transfer_syntax} only ({problem})")
        staged.instances.append(StagedInstance(header, files))
    for found in study.manifests:
        if _check_manifest(study, found, notes):
            relative = Path(KOS_DIR) / f"{found.header.SOPInstanceUID}.dcm"
            (staged.directory / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found.path, staged.directory / relative)
            staged.manifests.append((relative, "imported"))
    if not staged.manifests:
        add_built_kos(staged, base_url)
    return staged


def _scan(source: Path, progress: Progress | None) -> tuple[dict[str, _Study], list[SkippedFile]]:
    paths = sorted(p for p in source.rglob("*") if p.is_file())
    studies: dict[str, _Study] = {}
    skipped: list[SkippedFile] = []
    seen: dict[str, Path] = {}
    for done, path in enumerate(paths, start=1):
        found = read_candidate(path)
        if progress is not None:
            progress("reading", done, len(paths))
        if isinstance(found, SkippedFile):
            skipped.append(found)
            continue
        sop_uid = str(found.header.SOPInstanceUID)
        if sop_uid in seen:
            skipped.append(SkippedFile(path, f"same SOP Instance UID as {seen[sop_uid]}"))
            continue
        seen[sop_uid] = path
        study_uid = str(found.header.StudyInstanceUID)
        study = studies.setdefault(study_uid, _Study(study_uid))
        (study.manifests if is_manifest(found.header) else study.instances).append(found)
    return studies, skipped


def _refusal(store: Store, study: _Study) -> str | None:
    sops = [str(f.header.SOPInstanceUID) for f in study.instances]
    series = list({str(f.header.SeriesInstanceUID) for f in study.instances})
    clash = find_clash(store, study.uid, sops, series)
    if clash is not None and clash.exam_name is not None:
        return f"study {study.uid} is already in the catalogue as exam {clash.exam_name!r}"
    if clash is not None:
        return f"study {study.uid} shares UIDs with an exam already catalogued ({clash.shared_uid})"
    if not study.instances:
        return f"study {study.uid}: a KOS was found but none of its images"
    return None


def _names(store: Store, count: int, base: str, explicit: bool) -> list[str]:
    taken = exam_names(store)
    names = []
    for index in range(1, count + 1):
        wanted = base if count == 1 else f"{base}-{index}"
        if wanted in taken and explicit:
            raise InputError(f"an exam named {wanted!r} already exists; choose another --name")
        name, suffix = wanted, 2
        while name in taken:
            name, suffix = f"{wanted}-{suffix}", suffix + 1
        taken.add(name)
        names.append(name)
    return names


def import_directory(
    store: Store,
    settings: Settings,
    source: Path,
    *,
    name: str | None = None,
    progress: Progress | None = None,
    default_name: str | None = None,
) -> ImportSummary:
    """Import every study found under `source` (recursively); returns what was done.

    Exams are named `name` (an error when taken), else `default_name` or the folder's name
    (suffixed when taken).
    """
    if not source.is_dir():
        raise InputError(f"{source}: no such directory")
    if name is not None and not _NAME.fullmatch(name):
        raise InputError(f"exam name {name!r}: use letters, digits, '.', '_' and '-' (max 100)")
    studies, skipped = _scan(source, progress)
    refused: list[str] = []
    notes: list[str] = []
    with dataset_lock(settings):
        accepted = []
        for study in studies.values():
            reason = _refusal(store, study)
            if reason is None:
                accepted.append(study)
            else:
                refused.append(reason)
        base = name or _slug(default_name or source.name)
        names = _names(store, len(accepted), base, name is not None)
        staged: list[StagedExam] = []
        with staging_area(settings) as stage, warnings.catch_warnings():
            # real-world headers often break their VR's rules (pydicom warns on each access);
            # they are imported as they are: judging them is the validators' job
            warnings.simplefilter("ignore", UserWarning)
            for done, (study, exam_name) in enumerate(zip(accepted, names, strict=True), 1):
                staged.append(_stage_study(study, exam_name, stage, settings.wado_base_url, notes))
                if progress is not None:
                    progress("staging", done, len(accepted))
            commit_staged(store, settings, staged)
    imported = tuple(
        ImportedExam(
            name=exam.name,
            study_instance_uid=str(exam.instances[0].header.StudyInstanceUID),
            series_count=len({str(i.header.SeriesInstanceUID) for i in exam.instances}),
            instance_count=len(exam.instances),
            kos_sop_instance_uid=exam.manifests[0][0].stem,
            kos_origin=exam.manifests[0][1],
        )
        for exam in staged
    )
    return ImportSummary(source, imported, tuple(skipped), tuple(refused), tuple(notes))
