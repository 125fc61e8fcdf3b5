"""The dataset catalogue: exams on disk under the home, registered in the store, and queries.

Layout (paths stored relative to the home):
`datasets/<exam>/<transfer-syntax-uid>/<series-uid>/<sop-uid>.dcm` and
`datasets/<exam>/kos/<kos-sop-uid>.dcm`.

Exams are added through `staging` (nothing half-done); the queries return frozen records
with absolute paths, for the simulators and the CLI, made from the rows `drimlab.store.catalog`
reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian

from drimlab.config import Settings
from drimlab.datasets.encodings import PRE_ENCODED_SYNTAXES
from drimlab.datasets.kos_build import build_kos, write_kos
from drimlab.datasets.staging import (
    KOS_DIR,
    Progress,
    StagedExam,
    StagedInstance,
    add_built_kos,
    commit_staged,
    dataset_lock,
    read_header,
    run_encodings,
    sha256_of,
    staging_area,
)
from drimlab.datasets.synthetic import ExamSpec, dataset_specs, write_exam
from drimlab.errors import InputError, StoreError
from drimlab.store import Store
from drimlab.store.catalog import (
    ExamEntry,
    ExamRow,
    FileRow,
    InstanceRow,
    ManifestEntry,
    ManifestRow,
    SeriesRow,
    add_manifest,
    count_exams,
    exam_names,
    exam_row,
    exam_rows,
    file_row,
    instance_row,
    manifest_row,
    series_row,
    series_rows_of_exam,
)

DEFAULT_DATASET = "default"


@dataclass(frozen=True)
class StoredFile:
    """One encoding of an instance on disk."""

    transfer_syntax_uid: str
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class InstanceInfo:
    """A catalogued instance and its files, one per transfer syntax."""

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    instance_number: int | None
    number_of_frames: int
    files: tuple[StoredFile, ...]

    def file(self, transfer_syntax_uid: str) -> StoredFile | None:
        return next((f for f in self.files if f.transfer_syntax_uid == transfer_syntax_uid), None)

    @property
    def transfer_syntaxes(self) -> tuple[str, ...]:
        return tuple(f.transfer_syntax_uid for f in self.files)


@dataclass(frozen=True)
class SeriesInfo:
    """A catalogued series with its instances in instance-number order."""

    series_instance_uid: str
    study_instance_uid: str
    exam_name: str
    modality: str
    series_number: int | None
    description: str
    instances: tuple[InstanceInfo, ...]


@dataclass(frozen=True)
class KosInfo:
    """Where a catalogued KOS file is: the keys it is found by, its path and hash.

    A store record, not the KOS: `documents.kos.read_kos(info.path)` gives the `Kos` model.
    """

    sop_instance_uid: str
    study_instance_uid: str
    exam_name: str
    origin: str
    retrieve_base_url: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class ExamInfo:
    """A catalogued exam with its counts, encodings and manifests."""

    name: str
    dataset: str
    origin: str
    study_instance_uid: str
    patient_name: str
    patient_id: str
    issuer_of_patient_id: str
    accession_number: str
    accession_issuer: str
    study_date: str
    study_description: str
    root_dir: Path
    series_count: int
    instance_count: int
    transfer_syntaxes: tuple[str, ...]
    manifests: tuple[KosInfo, ...]

    @property
    def kos(self) -> KosInfo | None:
        """The exam's first manifest (the one generated or imported with it)."""
        return self.manifests[0] if self.manifests else None


# --- generation ---------------------------------------------------------------------------


def _stage_synthetic(
    spec: ExamSpec, dataset: str, stage: Path, progress: Progress | None
) -> StagedExam:
    directory = stage / spec.name
    label = f"writing {spec.name}"
    total = spec.instance_count

    def advance(done: int) -> None:
        if progress is not None:
            progress(label, done, total)

    paths = write_exam(spec, directory / ExplicitVRLittleEndian, progress=advance)
    staged = StagedExam(spec.name, dataset, "synthetic", directory)
    for path in sorted(paths):
        header = read_header(path)
        staged.instances.append(
            StagedInstance(header, {ExplicitVRLittleEndian: path.relative_to(directory)})
        )
    return staged


def generate_dataset(
    store: Store,
    settings: Settings,
    name: str = DEFAULT_DATASET,
    *,
    specs: Sequence[ExamSpec] | None = None,
    progress: Progress | None = None,
) -> list[ExamEntry]:
    """Generate a built-in dataset's missing exams, pre-encoded, with their KOS; returns them.

    `specs` replaces the dataset's own exam list (a benchmark's reduced exam, a test's).
    """
    if specs is None:
        specs = dataset_specs(name)
    with dataset_lock(store):
        present = exam_names(store)
        todo = [spec for spec in specs if spec.name not in present]
        if not todo:
            return []
        with staging_area(settings) as stage:
            staged = [_stage_synthetic(spec, name, stage, progress) for spec in todo]
            jobs = []
            for exam in staged:
                for instance in exam.instances:
                    source = exam.directory / instance.files[ExplicitVRLittleEndian]
                    for ts in PRE_ENCODED_SYNTAXES:
                        relative = Path(ts) / source.relative_to(
                            exam.directory / ExplicitVRLittleEndian
                        )
                        instance.files[str(ts)] = relative
                        jobs.append((source, str(ts), exam.directory / relative))
            run_encodings(jobs, progress)
            for exam in staged:
                add_built_kos(exam, settings.wado_base_url)
            return commit_staged(store, settings, staged)


def ensure_default_dataset(
    store: Store, settings: Settings, *, progress: Progress | None = None
) -> list[ExamEntry]:
    """Generate the default dataset on first use (when the store has none of its exams)."""
    if count_exams(store, DEFAULT_DATASET):
        return []
    return generate_dataset(store, settings, DEFAULT_DATASET, progress=progress)


# --- queries ------------------------------------------------------------------------------


def _file(home: Path, row: FileRow) -> StoredFile:
    return StoredFile(row.transfer_syntax_uid, home / row.path, row.size, row.sha256)


def _instance(home: Path, row: InstanceRow) -> InstanceInfo:
    return InstanceInfo(
        sop_instance_uid=row.sop_instance_uid,
        sop_class_uid=row.sop_class_uid,
        series_instance_uid=row.series_instance_uid,
        study_instance_uid=row.study_instance_uid,
        instance_number=row.instance_number,
        number_of_frames=row.number_of_frames,
        files=tuple(_file(home, f) for f in row.files),
    )


def _series(home: Path, row: SeriesRow) -> SeriesInfo:
    return SeriesInfo(
        series_instance_uid=row.series_instance_uid,
        study_instance_uid=row.study_instance_uid,
        exam_name=row.exam_name,
        modality=row.modality,
        series_number=row.series_number,
        description=row.description,
        instances=tuple(_instance(home, i) for i in row.instances),
    )


def _kos(home: Path, row: ManifestRow) -> KosInfo:
    return KosInfo(
        sop_instance_uid=row.sop_instance_uid,
        study_instance_uid=row.study_instance_uid,
        exam_name=row.exam_name,
        origin=row.origin,
        retrieve_base_url=row.retrieve_base_url,
        path=home / row.path,
        sha256=row.sha256,
    )


def _exam(home: Path, row: ExamRow) -> ExamInfo:
    return ExamInfo(
        name=row.name,
        dataset=row.dataset,
        origin=row.origin,
        study_instance_uid=row.study_instance_uid,
        patient_name=row.patient_name,
        patient_id=row.patient_id,
        issuer_of_patient_id=row.issuer_of_patient_id,
        accession_number=row.accession_number,
        accession_issuer=row.accession_issuer,
        study_date=row.study_date,
        study_description=row.study_description,
        root_dir=home / row.root_dir,
        series_count=row.series_count,
        instance_count=row.instance_count,
        transfer_syntaxes=row.transfer_syntaxes,
        manifests=tuple(_kos(home, k) for k in row.manifests),
    )


def list_exams(store: Store) -> list[ExamInfo]:
    """Every catalogued exam, by dataset then name."""
    return [_exam(store.settings.home, row) for row in exam_rows(store)]


def find_exam(store: Store, key: str) -> ExamInfo | None:
    """The exam with this name or Study Instance UID, if any."""
    row = exam_row(store, key)
    return None if row is None else _exam(store.settings.home, row)


def get_exam(store: Store, key: str) -> ExamInfo:
    """Like `find_exam`, but an unknown exam is an InputError."""
    exam = find_exam(store, key)
    if exam is None:
        raise InputError(f"no exam named or with Study Instance UID {key!r} (see: dataset list)")
    return exam


def exam_series(store: Store, key: str) -> tuple[SeriesInfo, ...]:
    """The series of an exam (name or study UID), with instances and files."""
    exam = get_exam(store, key)
    home = store.settings.home
    return tuple(_series(home, row) for row in series_rows_of_exam(store, exam.name))


def find_series(store: Store, series_uid: str) -> SeriesInfo | None:
    """A series by its Series Instance UID, with instances and files."""
    row = series_row(store, series_uid)
    return None if row is None else _series(store.settings.home, row)


def find_instance(store: Store, sop_uid: str) -> InstanceInfo | None:
    """An instance by its SOP Instance UID, with its files."""
    row = instance_row(store, sop_uid)
    return None if row is None else _instance(store.settings.home, row)


def instance_file(store: Store, sop_uid: str, transfer_syntax_uid: str) -> StoredFile | None:
    """The file of an instance in one transfer syntax, if the catalogue holds it."""
    row = file_row(store, sop_uid, transfer_syntax_uid)
    return None if row is None else _file(store.settings.home, row)


def find_kos(store: Store, sop_uid: str) -> KosInfo | None:
    """A KOS manifest by its SOP Instance UID."""
    row = manifest_row(store, sop_uid)
    return None if row is None else _kos(store.settings.home, row)


def exam_kos(store: Store, key: str) -> tuple[KosInfo, ...]:
    """The KOS manifests of an exam (name or study UID), oldest first."""
    return get_exam(store, key).manifests


def kos_for_base(store: Store, settings: Settings, key: str, base_url: str) -> KosInfo:
    """The exam's built KOS for this WADO-RS base, building and registering it if needed."""
    exam = get_exam(store, key)
    base = base_url.rstrip("/")
    for kos in exam.manifests:
        if kos.origin == "built" and kos.retrieve_base_url == base:
            return kos
    headers = []
    for series in exam_series(store, exam.name):
        for instance in series.instances:
            file = instance.file(ExplicitVRLittleEndian) or instance.files[0]
            headers.append(read_header(file.path))
    built = build_kos(headers, base)
    existing = find_kos(store, str(built.SOPInstanceUID))
    if existing is not None:
        return existing
    with dataset_lock(store):
        path = exam.root_dir / KOS_DIR / f"{built.SOPInstanceUID}.dcm"
        partial = path.with_suffix(".partial")
        try:
            write_kos(built, partial)
            partial.rename(path)
            add_manifest(
                store,
                exam.name,
                ManifestEntry(
                    sop_instance_uid=str(built.SOPInstanceUID),
                    origin="built",
                    retrieve_base_url=base,
                    path=str(path.relative_to(settings.home)),
                    sha256=sha256_of(path),
                ),
            )
        except BaseException:
            partial.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
            raise
    found = find_kos(store, str(built.SOPInstanceUID))
    if found is None:
        raise StoreError(f"KOS {built.SOPInstanceUID} vanished from the store after registration")
    return found
