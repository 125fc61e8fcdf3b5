"""Rows of the work handed to the task queue: inputs, state, outcome (`BackgroundJob`).

The queue is procrastinate's (`portal.queue`); a row here is made before the job is deferred
and settled by the worker that ran it, so any portal worker can answer "where is my job".
Settling is idempotent: a job retried after its worker died settles the same row again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drimlab.store.db import Store
from drimlab.store.models import BackgroundJob, utcnow

STATES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    state: str
    organisation_id: int | None
    inputs: Mapping[str, Any]
    report_ids: tuple[str, ...]
    error: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None


def _row(row: BackgroundJob) -> JobRow:
    return JobRow(
        row.id,
        row.kind,
        row.state,
        row.organisation_id,
        dict(row.inputs),
        tuple(str(r) for r in row.report_ids),
        row.error,
        row.attempts,
        row.created_at,
        row.finished_at,
    )


def create_job(
    store: Store, kind: str, organisation_id: int | None, inputs: Mapping[str, Any]
) -> str:
    """A new queued job's row; returns its id."""
    job_id = str(uuid.uuid4())
    with store.session() as session:
        session.add(
            BackgroundJob(
                id=job_id,
                kind=kind,
                state="queued",
                organisation_id=organisation_id,
                inputs=dict(inputs),
                report_ids=[],
                error="",
                attempts=0,
            )
        )
    return job_id


def find_job(store: Store, job_id: str) -> JobRow | None:
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36])
        return _row(row) if row is not None else None


def start_job(store: Store, job_id: str) -> JobRow | None:
    """Mark a job running (one more attempt); None if it is unknown."""
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36], with_for_update=True)
        if row is None:
            return None
        row.state, row.attempts = "running", row.attempts + 1
        return _row(row)


def finish_job(
    store: Store, job_id: str, *, report_ids: Sequence[str] = (), error: str = ""
) -> None:
    """Settle a job: done with its reports, or failed with a one-line reason."""
    with store.session() as session:
        row = session.get(BackgroundJob, job_id[:36], with_for_update=True)
        if row is None:
            return
        row.state = "failed" if error else "done"
        row.report_ids, row.error, row.finished_at = list(report_ids), error, utcnow()
