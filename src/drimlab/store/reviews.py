"""Monitors' reviews of scenario runs (the Gazelle statuses) and the monitors' worklist.

A review is a person's verdict on the evidence of a run, recorded with a comment; it is not a
bench verdict (those are Reports made by the rules). The latest review of a run is its
status for the vendor; earlier ones stay as its history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from drimlab.errors import InputError
from drimlab.store.db import Store
from drimlab.store.models import Organisation, RunReview, ScenarioRun, UserAccount

STATUSES = ("VERIFIED", "PARTIALLY_VERIFIED", "FAILED")
MAX_COMMENT = 4000


@dataclass(frozen=True)
class Review:
    status: str
    comment: str
    monitor: str | None
    created_at: datetime


@dataclass(frozen=True)
class WorkItem:
    """A run in the monitors' worklist, with its latest review if any."""

    run_id: str
    scenario_id: str
    organisation: str | None
    status: str
    created_at: datetime
    finished_at: datetime | None
    review: str | None


def record_review(
    store: Store, run_id: str, monitor_id: int | None, status: str, comment: str
) -> Review:
    """Record a monitor's verdict on a run; InputError for an unknown status or run."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InputError(f"the comment has more than {MAX_COMMENT} characters")
    with store.session() as session:
        if session.get(ScenarioRun, run_id[:36]) is None:
            raise InputError(f"no run {run_id!r}")
        row = RunReview(run_id=run_id, monitor_id=monitor_id, status=status, comment=comment)
        session.add(row)
        session.flush()
        monitor = session.get(UserAccount, monitor_id) if monitor_id else None
        return Review(row.status, row.comment, monitor.login if monitor else None, row.created_at)


def reviews_of(store: Store, run_id: str) -> list[Review]:
    """A run's reviews, newest first."""
    with store.session() as session:
        rows = session.execute(
            select(RunReview, UserAccount.login)
            .outerjoin(UserAccount, UserAccount.id == RunReview.monitor_id)
            .where(RunReview.run_id == run_id[:36])
            .order_by(RunReview.created_at.desc(), RunReview.id.desc())
        ).all()
        return [Review(r.status, r.comment, login, r.created_at) for r, login in rows]


def worklist(store: Store, *, pending_only: bool = True, limit: int = 200) -> list[WorkItem]:
    """Finished runs, newest first; only those without a review when `pending_only`."""
    latest = (
        select(RunReview.run_id, func.max(RunReview.id).label("last"))
        .group_by(RunReview.run_id)
        .subquery()
    )
    query = (
        select(ScenarioRun, Organisation.name, RunReview.status)
        .outerjoin(Organisation, Organisation.id == ScenarioRun.organisation_id)
        .outerjoin(latest, latest.c.run_id == ScenarioRun.id)
        .outerjoin(RunReview, RunReview.id == latest.c.last)
        .where(ScenarioRun.status != "running")
        .order_by(ScenarioRun.created_at.desc())
        .limit(limit)
    )
    if pending_only:
        query = query.where(latest.c.last.is_(None))
    with store.session() as session:
        return [
            WorkItem(
                run.id, run.scenario_id, name, run.status, run.created_at, run.finished_at, status
            )
            for run, name, status in session.execute(query).all()
        ]
