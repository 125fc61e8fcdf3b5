"""The catalogue's rows: exams, their series, instances with one file per transfer syntax, KOS.

Exams are added in one transaction (`registering_exams`): their rows are flushed, the
caller's block runs (it moves the exam directories into place), then all of it commits or
none of it does. Reads return frozen row records with paths relative to the home, as they
are stored; `drimlab.datasets.catalog` turns them into its records with absolute paths.
Every call asks the database: another process may have changed the catalogue since.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from drimlab.errors import InputError, StoreError
from drimlab.store.db import Store
from drimlab.store.models import Exam, Instance, InstanceFile, Kos, Series, over_long_values


@dataclass(frozen=True)
class FileRow:
    """One encoding of an instance on disk: a Part 10 file in one transfer syntax."""

    transfer_syntax_uid: str
    path: str  # relative to the home
    size: int
    sha256: str


# --- what is added ------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceEntry:
    """An instance to add, with its files."""

    sop_instance_uid: str
    sop_class_uid: str
    instance_number: int | None
    number_of_frames: int
    rows: int | None
    columns: int | None
    files: tuple[FileRow, ...]


@dataclass(frozen=True)
class SeriesEntry:
    """A series to add, with its instances."""

    series_instance_uid: str
    modality: str
    series_number: int | None
    description: str
    instances: tuple[InstanceEntry, ...]


@dataclass(frozen=True)
class ManifestEntry:
    """A KOS manifest file to register with its exam."""

    sop_instance_uid: str
    origin: str  # built | imported
    retrieve_base_url: str
    path: str  # relative to the home
    sha256: str


@dataclass(frozen=True)
class ExamEntry:
    """An exam to add: its study, patient and request, where its files are, what it holds."""

    name: str
    dataset: str
    origin: str  # synthetic | imported
    study_instance_uid: str
    patient_name: str
    patient_id: str
    issuer_of_patient_id: str
    patient_birth_date: str
    patient_sex: str
    accession_number: str
    accession_issuer: str
    study_date: str
    study_time: str
    study_description: str
    institution_name: str
    root_dir: str  # relative to the home
    series: tuple[SeriesEntry, ...]
    manifests: tuple[ManifestEntry, ...]


# --- what is read -------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceRow:
    """A catalogued instance and its files, sorted by transfer syntax."""

    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    study_instance_uid: str
    instance_number: int | None
    number_of_frames: int
    files: tuple[FileRow, ...]


@dataclass(frozen=True)
class SeriesRow:
    """A catalogued series with its instances in instance-number order."""

    series_instance_uid: str
    study_instance_uid: str
    exam_name: str
    modality: str
    series_number: int | None
    description: str
    instances: tuple[InstanceRow, ...]


@dataclass(frozen=True)
class ManifestRow:
    """A catalogued KOS file and the exam it belongs to."""

    sop_instance_uid: str
    study_instance_uid: str
    exam_name: str
    origin: str
    retrieve_base_url: str
    path: str  # relative to the home
    sha256: str


@dataclass(frozen=True)
class ExamRow:
    """A catalogued exam with its counts, encodings and manifests (oldest first)."""

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
    root_dir: str  # relative to the home
    series_count: int
    instance_count: int
    transfer_syntaxes: tuple[str, ...]
    manifests: tuple[ManifestRow, ...]


@dataclass(frozen=True)
class Clash:
    """Why a study cannot be added: the exam that holds it, or a UID an exam already uses."""

    exam_name: str | None = None
    shared_uid: str | None = None


# --- writing ------------------------------------------------------------------------------


def _kos(entry: ManifestEntry) -> Kos:
    return Kos(
        sop_instance_uid=entry.sop_instance_uid,
        origin=entry.origin,
        retrieve_base_url=entry.retrieve_base_url,
        path=entry.path,
        sha256=entry.sha256,
    )


def _exam(entry: ExamEntry) -> Exam:
    """The ORM rows of an exam; InputError when a value is too long for its column."""
    exam = Exam(
        name=entry.name,
        dataset=entry.dataset,
        origin=entry.origin,
        study_instance_uid=entry.study_instance_uid,
        patient_name=entry.patient_name,
        patient_id=entry.patient_id,
        issuer_of_patient_id=entry.issuer_of_patient_id,
        patient_birth_date=entry.patient_birth_date,
        patient_sex=entry.patient_sex,
        accession_number=entry.accession_number,
        accession_issuer=entry.accession_issuer,
        study_date=entry.study_date,
        study_time=entry.study_time,
        study_description=entry.study_description,
        institution_name=entry.institution_name,
        root_dir=entry.root_dir,
    )
    for series_entry in entry.series:
        series = Series(
            series_instance_uid=series_entry.series_instance_uid,
            modality=series_entry.modality,
            series_number=series_entry.series_number,
            description=series_entry.description,
        )
        exam.series.append(series)
        for instance_entry in series_entry.instances:
            instance = Instance(
                sop_instance_uid=instance_entry.sop_instance_uid,
                sop_class_uid=instance_entry.sop_class_uid,
                instance_number=instance_entry.instance_number,
                number_of_frames=instance_entry.number_of_frames,
                rows=instance_entry.rows,
                columns=instance_entry.columns,
            )
            for file in instance_entry.files:
                instance.files.append(
                    InstanceFile(
                        transfer_syntax_uid=file.transfer_syntax_uid,
                        path=file.path,
                        size=file.size,
                        sha256=file.sha256,
                    )
                )
            series.instances.append(instance)
    for manifest in entry.manifests:
        exam.manifests.append(_kos(manifest))
    problems = [p for row in (exam, *exam.series, *exam.manifests) for p in over_long_values(row)]
    problems += [
        p
        for series in exam.series
        for instance in series.instances
        for row in (instance, *instance.files)
        for p in over_long_values(row)
    ]
    if problems:
        raise InputError(f"exam {entry.name}: values too long for the catalogue: {problems[0]}")
    return exam


@contextmanager
def registering_exams(store: Store, exams: Sequence[ExamEntry]) -> Iterator[None]:
    """Add exams in one transaction around the caller's block: all of them, or none.

    The rows are flushed before the block runs and committed after it; a value too long
    for its column is an InputError naming it, a refusal of the database a StoreError.
    """
    try:
        with store.session() as session:
            session.add_all([_exam(exam) for exam in exams])
            session.flush()
            yield
    except SQLAlchemyError as exc:
        reason = str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0]
        raise StoreError(f"cannot register the exams: {reason}") from exc


def add_manifest(store: Store, exam_name: str, manifest: ManifestEntry) -> None:
    """Register one more KOS file of a catalogued exam."""
    with store.session() as session:
        row = session.scalars(select(Exam).where(Exam.name == exam_name)).one()
        row.manifests.append(_kos(manifest))


# --- reading ------------------------------------------------------------------------------


def exam_names(store: Store) -> set[str]:
    """The names of every catalogued exam."""
    with store.session() as session:
        return set(session.scalars(select(Exam.name)))


def count_exams(store: Store, dataset: str) -> int:
    """How many exams of one dataset are catalogued."""
    with store.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Exam).where(Exam.dataset == dataset)
        )
    return count or 0


def find_clash(
    store: Store, study_uid: str, sop_uids: Sequence[str], series_uids: Sequence[str]
) -> Clash | None:
    """What already holds this study, or one of these instance or series UIDs, if anything."""
    with store.session() as session:
        exam = session.scalars(select(Exam).where(Exam.study_instance_uid == study_uid)).first()
        if exam is not None:
            return Clash(exam_name=exam.name)
        clash = session.scalars(
            select(Instance.sop_instance_uid)
            .join(Series)
            .where(
                or_(
                    Instance.sop_instance_uid.in_(sop_uids),
                    Series.series_instance_uid.in_(series_uids),
                )
            )
        ).first()
    return None if clash is None else Clash(shared_uid=clash)


def _file_row(row: InstanceFile) -> FileRow:
    return FileRow(row.transfer_syntax_uid, row.path, row.size, row.sha256)


def _instance_row(row: Instance, series: Series, study_uid: str) -> InstanceRow:
    return InstanceRow(
        sop_instance_uid=row.sop_instance_uid,
        sop_class_uid=row.sop_class_uid,
        series_instance_uid=series.series_instance_uid,
        study_instance_uid=study_uid,
        instance_number=row.instance_number,
        number_of_frames=row.number_of_frames,
        files=tuple(sorted((_file_row(f) for f in row.files), key=lambda f: f.transfer_syntax_uid)),
    )


def _series_row(row: Series) -> SeriesRow:
    study_uid = row.exam.study_instance_uid
    return SeriesRow(
        series_instance_uid=row.series_instance_uid,
        study_instance_uid=study_uid,
        exam_name=row.exam.name,
        modality=row.modality,
        series_number=row.series_number,
        description=row.description,
        instances=tuple(_instance_row(i, row, study_uid) for i in row.instances),
    )


def _manifest_row(row: Kos, exam: Exam) -> ManifestRow:
    return ManifestRow(
        sop_instance_uid=row.sop_instance_uid,
        study_instance_uid=exam.study_instance_uid,
        exam_name=exam.name,
        origin=row.origin,
        retrieve_base_url=row.retrieve_base_url,
        path=row.path,
        sha256=row.sha256,
    )


def _exam_rows(session: Session, exams: Sequence[Exam]) -> list[ExamRow]:
    ids = [e.id for e in exams]
    series_counts = dict(
        session.execute(
            select(Series.exam_id, func.count(Series.id))
            .where(Series.exam_id.in_(ids))
            .group_by(Series.exam_id)
        ).all()
    )
    instance_counts = dict(
        session.execute(
            select(Series.exam_id, func.count(Instance.id))
            .join(Instance, Instance.series_id == Series.id)
            .where(Series.exam_id.in_(ids))
            .group_by(Series.exam_id)
        ).all()
    )
    syntaxes: dict[int, list[str]] = {}
    for exam_id, ts in session.execute(
        select(Series.exam_id, InstanceFile.transfer_syntax_uid)
        .join(Instance, Instance.series_id == Series.id)
        .join(InstanceFile, InstanceFile.instance_id == Instance.id)
        .where(Series.exam_id.in_(ids))
        .distinct()
    ):
        syntaxes.setdefault(exam_id, []).append(ts)
    rows = []
    for exam in exams:
        manifests = sorted(exam.manifests, key=lambda k: k.id)
        rows.append(
            ExamRow(
                name=exam.name,
                dataset=exam.dataset,
                origin=exam.origin,
                study_instance_uid=exam.study_instance_uid,
                patient_name=exam.patient_name,
                patient_id=exam.patient_id,
                issuer_of_patient_id=exam.issuer_of_patient_id,
                accession_number=exam.accession_number,
                accession_issuer=exam.accession_issuer,
                study_date=exam.study_date,
                study_description=exam.study_description,
                root_dir=exam.root_dir,
                series_count=series_counts.get(exam.id, 0),
                instance_count=instance_counts.get(exam.id, 0),
                transfer_syntaxes=tuple(sorted(syntaxes.get(exam.id, []))),
                manifests=tuple(_manifest_row(k, exam) for k in manifests),
            )
        )
    return rows


def exam_rows(store: Store) -> list[ExamRow]:
    """Every catalogued exam, by dataset then name."""
    with store.session() as session:
        exams = session.scalars(
            select(Exam).options(selectinload(Exam.manifests)).order_by(Exam.dataset, Exam.name)
        ).all()
        return _exam_rows(session, exams)


def exam_row(store: Store, key: str) -> ExamRow | None:
    """The exam with this name or Study Instance UID, if any."""
    with store.session() as session:
        exam = session.scalars(
            select(Exam)
            .options(selectinload(Exam.manifests))
            .where(or_(Exam.name == key, Exam.study_instance_uid == key))
        ).first()
        return None if exam is None else _exam_rows(session, [exam])[0]


def series_rows_of_exam(store: Store, exam_name: str) -> tuple[SeriesRow, ...]:
    """The series of the exam with this name, with instances and files, by series number."""
    with store.session() as session:
        rows = session.scalars(
            select(Series)
            .options(
                selectinload(Series.exam),
                selectinload(Series.instances).selectinload(Instance.files),
            )
            .join(Exam)
            .where(Exam.name == exam_name)
            .order_by(Series.series_number, Series.series_instance_uid)
        ).all()
        return tuple(_series_row(row) for row in rows)


def series_row(store: Store, series_uid: str) -> SeriesRow | None:
    """A series by its Series Instance UID, with instances and files."""
    with store.session() as session:
        row = session.scalars(
            select(Series)
            .options(
                selectinload(Series.exam),
                selectinload(Series.instances).selectinload(Instance.files),
            )
            .where(Series.series_instance_uid == series_uid)
        ).first()
        return None if row is None else _series_row(row)


def instance_row(store: Store, sop_uid: str) -> InstanceRow | None:
    """An instance by its SOP Instance UID, with its files."""
    with store.session() as session:
        row = session.scalars(
            select(Instance)
            .options(
                selectinload(Instance.files),
                selectinload(Instance.series).selectinload(Series.exam),
            )
            .where(Instance.sop_instance_uid == sop_uid)
        ).first()
        if row is None:
            return None
        return _instance_row(row, row.series, row.series.exam.study_instance_uid)


def file_row(store: Store, sop_uid: str, transfer_syntax_uid: str) -> FileRow | None:
    """The file of an instance in one transfer syntax, if the catalogue holds it."""
    with store.session() as session:
        row = session.scalars(
            select(InstanceFile)
            .join(Instance)
            .where(
                Instance.sop_instance_uid == sop_uid,
                InstanceFile.transfer_syntax_uid == transfer_syntax_uid,
            )
        ).first()
        return None if row is None else _file_row(row)


def manifest_row(store: Store, sop_uid: str) -> ManifestRow | None:
    """A KOS manifest by its SOP Instance UID."""
    with store.session() as session:
        row = session.scalars(
            select(Kos).options(selectinload(Kos.exam)).where(Kos.sop_instance_uid == sop_uid)
        ).first()
        return None if row is None else _manifest_row(row, row.exam)
