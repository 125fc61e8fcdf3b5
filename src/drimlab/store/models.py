"""SQLAlchemy models of everything drimlab keeps.

Paths stored here are relative to the drimlab home, so a data directory can be moved or
shared between workers. Large bodies live on disk (see `Settings.bodies_dir`), never in
the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, always read back as an aware UTC datetime, whatever the database.

    SQLite keeps no offset (it would drop a non-UTC one) and PostgreSQL answers in the
    session's time zone: values go in as UTC and come out as UTC on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Exam(Base):
    """One study of a dataset, with its patient, request and where its files are."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    origin: Mapped[str] = mapped_column(String(16))  # synthetic | imported
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    patient_name: Mapped[str] = mapped_column(String(256), default="")
    patient_id: Mapped[str] = mapped_column(String(64), default="")
    issuer_of_patient_id: Mapped[str] = mapped_column(String(64), default="")
    patient_birth_date: Mapped[str] = mapped_column(String(8), default="")
    patient_sex: Mapped[str] = mapped_column(String(16), default="")
    accession_number: Mapped[str] = mapped_column(String(64), default="")
    accession_issuer: Mapped[str] = mapped_column(String(128), default="")
    study_date: Mapped[str] = mapped_column(String(8), default="")
    study_time: Mapped[str] = mapped_column(String(16), default="")
    study_description: Mapped[str] = mapped_column(String(256), default="")
    institution_name: Mapped[str] = mapped_column(String(256), default="")
    root_dir: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    series: Mapped[list[Series]] = relationship(
        back_populates="exam", cascade="all, delete-orphan", order_by="Series.series_number"
    )
    manifests: Mapped[list[Kos]] = relationship(back_populates="exam", cascade="all, delete-orphan")


class Series(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    modality: Mapped[str] = mapped_column(String(16), default="")
    series_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str] = mapped_column(String(256), default="")

    exam: Mapped[Exam] = relationship(back_populates="series")
    instances: Mapped[list[Instance]] = relationship(
        back_populates="series", cascade="all, delete-orphan", order_by="Instance.instance_number"
    )


class Instance(Base):
    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    instance_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    number_of_frames: Mapped[int] = mapped_column(Integer, default=1)
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    columns: Mapped[int | None] = mapped_column(Integer, nullable=True)

    series: Mapped[Series] = relationship(back_populates="instances")
    files: Mapped[list[InstanceFile]] = relationship(
        back_populates="instance", cascade="all, delete-orphan"
    )


class InstanceFile(Base):
    """One encoding of an instance on disk: a Part 10 file in one transfer syntax."""

    __tablename__ = "instance_files"
    __table_args__ = (UniqueConstraint("instance_id", "transfer_syntax_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), index=True
    )
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)  # a multi-frame file may pass 2 GiB
    sha256: Mapped[str] = mapped_column(String(64))

    instance: Mapped[Instance] = relationship(back_populates="files")


class Kos(Base):
    """A DRIM-M KOS manifest of an exam (built by drimlab or imported with the exam)."""

    __tablename__ = "kos"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    origin: Mapped[str] = mapped_column(String(16))  # built | imported
    retrieve_base_url: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    exam: Mapped[Exam] = relationship(back_populates="manifests")


class ExchangeRecord(Base):
    """One captured HTTP exchange (request and/or response), as the validators saw it."""

    __tablename__ = "exchanges"
    __table_args__ = (
        Index("ix_exchanges_origin_created", "origin", "created_at", "id"),
        Index("ix_exchanges_study_created", "study_instance_uid", "created_at", "id"),
        Index("ix_exchanges_organisation_created", "organisation_id", "created_at", "id"),
        # which rows still name a body file (the purge keeps a file another exchange shares)
        Index("ix_exchanges_request_body_path", "request_body_path"),
        Index("ix_exchanges_response_body_path", "response_body_path"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    origin: Mapped[str] = mapped_column(String(16))  # server | client | proxy | file
    method: Mapped[str] = mapped_column(String(16), default="")
    target: Mapped[str] = mapped_column(Text, default="")
    request_headers: Mapped[list[Any]] = mapped_column(default=list)
    request_body_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_headers: Mapped[list[Any]] = mapped_column(default=list)
    response_body_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    parts: Mapped[list[Any]] = mapped_column(default=list)
    peer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kos_sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the subject DN of the client certificate presented, for listings filtered by client
    client_subject: Mapped[str | None] = mapped_column(String(512), nullable=True, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # the whole Exchange as `Exchange.as_dict()` gives it (TLS facts, decision, problems...)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    # who it belongs to in a shared environment (None: the lab's own, or not attributed)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    # the bytes of the bodies written to disk for it (what its organisation's quota counts)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))

    reports: Mapped[list[ReportRecord]] = relationship(back_populates="exchange")


class ReportRecord(Base):
    """A validation Report, kept whole as JSON plus the columns queries need."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_exchange_verdict", "exchange_id", "verdict"),
        Index("ix_reports_organisation_created", "organisation_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    exchange_id: Mapped[str | None] = mapped_column(
        ForeignKey("exchanges.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))  # request | response | kos | xds | ...
    subject: Mapped[str] = mapped_column(Text)
    profile: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kos_sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    # the bytes of the uploaded inputs kept with it as evidence (under home/uploads)
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))

    exchange: Mapped[ExchangeRecord | None] = relationship(back_populates="reports")


class ScenarioRun(Base):
    """One run of a homologation scenario: its inputs, the exam it is about, its state."""

    __tablename__ = "scenario_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(String(128), index=True)
    scenario_sha256: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))  # interactive | auto
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | done | failed
    language: Mapped[str] = mapped_column(String(8), default="en")
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kos_sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True, index=True
    )

    steps: Mapped[list[ScenarioStepState]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="ScenarioStepState.position"
    )


class ScenarioStepState(Base):
    """Where one step of a run stands: done | failed | skipped | waiting, and what it yielded."""

    __tablename__ = "scenario_steps"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(
        ForeignKey("scenario_runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # INSTRUCTION | PREUVE | VALIDATION
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    exchange_ids: Mapped[list[Any]] = mapped_column(default=list)
    report_ids: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # [{name, path, sha256, size}]
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    run: Mapped[ScenarioRun] = relationship(back_populates="steps")


class Organisation(Base):
    """A vendor (or the programme's own team) in a shared environment.

    `identities` are what attributes a client certificate to it: a subject DN, matched
    exactly, or a DNS domain (`example.com` matches a CN or SAN of `example.com` and of its
    subdomains), as a DRIM-M whitelist names a consumer.
    """

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    identities: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # None: the environment's default (DRIMLAB_QUOTA_EXCHANGES, DRIMLAB_QUOTA_BYTES)
    quota_exchanges: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UserAccount(Base):
    """A person who logs in: a vendor member, a monitor or an admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # vendor | monitor | admin
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id, never the password
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # the SHA-256 of the client certificate (DER) the user may log in with, bound by an admin
    certificate_sha256: Mapped[str | None] = mapped_column(
        String(64), nullable=True, unique=True, index=True
    )


class LoginSession(Base):
    """A logged-in browser: the SHA-256 of its cookie's token (the token is never stored)."""

    __tablename__ = "login_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    """A personal API token: its SHA-256 and the first characters shown to tell it apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Failed logins counted per key (`login:NAME`, `address:IP`) in a window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RunReview(Base):
    """A monitor's verdict on a scenario run (the Gazelle statuses) with a comment."""

    __tablename__ = "run_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(
        ForeignKey("scenario_runs.id", ondelete="CASCADE"), index=True
    )
    monitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(24))  # VERIFIED | PARTIALLY_VERIFIED | FAILED
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class BackgroundJob(Base):
    """Work handed to the task queue (procrastinate) and what came of it.

    The queue itself is procrastinate's tables; this row holds what the job works on (its
    inputs under the shared data directory, the form values) and its outcome (the reports it
    stored, or the one-line reason it failed), which the API shows.
    """

    __tablename__ = "background_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # validation|retrieve|probes|bundle
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued|running|done|failed
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report_ids: Mapped[list[Any]] = mapped_column(default=list)
    # what it works on, when that is one stored thing (a run's id for a bundle or a resume)
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # progress and what came of it besides reports: exchange ids, counters, verdict, file
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


def over_long_values(row: Base) -> list[str]:
    """The values of `row` longer than their column allows, as `table.column (N > max)`.

    SQLite stores an over-long string silently while PostgreSQL refuses it: checking before
    writing makes both databases refuse the same input, with a message naming the field.
    """
    problems = []
    for column in row.__table__.columns:
        limit = getattr(column.type, "length", None)
        value = getattr(row, column.key, None)
        if isinstance(limit, int) and isinstance(value, str) and len(value) > limit:
            problems.append(f"{row.__tablename__}.{column.key} ({len(value)} > {limit} characters)")
    return problems
