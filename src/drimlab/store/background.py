"""Rows of the work handed to the task queue: inputs, state, outcome (`BackgroundJob`).

The queue is procrastinate's (`portal.queue`); a row here is made before the job is deferred
and settled by the worker that ran it, so any portal worker can answer "where is my job".
Settling is idempotent: a job retried after its worker died settles the same row again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from drimlab.errors import InputError, first_line
from drimlab.store.db import Store
from drimlab.store.models import BackgroundJob, utcnow

STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    state: str
    subject: str | None
    organisation_id: int | None
    inputs: Mapping[str, Any]
    report_ids: tuple[str, ...]
    outcome: Mapping[str, Any]
    error: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None


def _row(row: BackgroundJob) -> JobRow:
    return JobRow(
        row.id,
        row.kind,
        row.state,
        row.subject,
        row.organisation_id,
        dict(row.inputs),
        tuple(str(r) for r in row.report_ids),
        dict(row.outcome or {}),
        row.error,
        row.attempts,
        row.created_at,
        row.finished_at,
    )


def create_job(
    store: Store,
    kind: str,
    organisation_id: int | None,
    inputs: Mapping[str, Any],
    *,
    subject: str | None = None,
) -> str:
    """A new queued job's row; returns its id. `subject`: the stored thing it works on."""
    job_id = str(uuid.uuid4())
    with store.session() as session:
        session.add(
            BackgroundJob(
                id=job_id,
                kind=kind,
                state="queued",
                subject=subject,
                organisation_id=organisation_id,
                inputs=dict(inputs),
                report_ids=[],
                outcome={},
                error="",
                attempts=0,
            )
        )
    return job_id


def find_job(store: Store, job_id: str) -> JobRow | None:
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36])
        return _row(row) if row is not None else None


def latest_job(store: Store, kind: str, subject: str) -> JobRow | None:
    """The newest job of `kind` on `subject` (a run's bundle, say), whatever its state."""
    with store.session() as session:
        row = session.scalars(
            select(BackgroundJob)
            .where(BackgroundJob.kind == kind, BackgroundJob.subject == subject)
            .order_by(BackgroundJob.created_at.desc())
            .limit(1)
        ).first()
        return _row(row) if row is not None else None


def start_job(store: Store, job_id: str) -> JobRow | None:
    """Mark a job running (one more attempt); None if it is unknown. A job already done is
    returned as it is (a retried job does not run twice)."""
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36], with_for_update=True)
        if row is None:
            return None
        if row.state == "done":
            return _row(row)
        row.state, row.attempts = "running", row.attempts + 1
        return _row(row)


def record_progress(store: Store, job_id: str, outcome: Mapping[str, Any]) -> None:
    """Keep a running job's progress (counters, the exchanges stored so far) for any worker
    that shows it; the last value wins."""
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36], with_for_update=True)
        if row is not None and row.state == "running":
            row.outcome = dict(outcome)


def finish_job(
    store: Store,
    job_id: str,
    *,
    report_ids: Sequence[str] = (),
    error: str = "",
    outcome: Mapping[str, Any] | None = None,
) -> None:
    """Settle a job: done with its reports (and outcome), or failed with a one-line reason."""
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36], with_for_update=True)
        if row is None:
            return
        row.state = "failed" if error else "done"
        row.report_ids, row.error, row.finished_at = list(report_ids), error, utcnow()
        if outcome is not None:
            row.outcome = dict(outcome)


@dataclass(frozen=True)
class JobResult:
    """What a job made: its reports, what its row keeps besides, and why it failed if it did
    (a job that fails after storing some reports says both)."""

    report_ids: Sequence[str] = ()
    outcome: Mapping[str, Any] | None = None
    error: str = ""


def run_job(store: Store, job_id: str, work: Callable[[JobRow], JobResult]) -> None:
    """Do one job of the task queue and settle its row (a task worker's side).

    A job already done is not done twice (a retried job); what `work` raises settles the row
    failed with the error's first line, so a page or the API can say it.
    """
    row = start_job(store, job_id)
    if row is None or row.state == "done":
        return
    try:
        result = work(row)
    except Exception as exc:  # said where the job is shown
        finish_job(store, job_id, error=first_line(exc))
        return
    finish_job(
        store, job_id, report_ids=result.report_ids, error=result.error, outcome=result.outcome
    )


SEALED = "sealed:"


def _job_key(home: Path) -> bytes:
    """The key that seals the secrets a job carries (under the shared data directory, 0600;
    made once, by whichever process needs it first)."""
    path = home / "secrets" / "jobs.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile
        return path.read_bytes().strip()
    with os.fdopen(handle, "wb") as out:
        out.write(Fernet.generate_key())
    return path.read_bytes().strip()


def seal(home: Path, secret: str) -> str:
    """A secret (a bearer token typed in a form) as a job's row may keep it: encrypted with
    the data directory's job key, so the database never holds it in clear."""
    return SEALED + Fernet(_job_key(home)).encrypt(secret.encode()).decode()


def unseal(home: Path, value: str) -> str:
    """The secret `seal` made (a value that is not sealed is returned as it is)."""
    if not value.startswith(SEALED):
        return value
    try:
        return Fernet(_job_key(home)).decrypt(value[len(SEALED) :].encode()).decode()
    except InvalidToken:
        raise InputError(
            "the job's sealed secret cannot be read with this data directory's key"
        ) from None
