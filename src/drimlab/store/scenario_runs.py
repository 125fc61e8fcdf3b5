"""Scenario runs and the state of each of their steps, as rows.

Every change is its own transaction, committed at once, so an interrupted run resumes from
what is stored; nothing is kept between calls, since other workers may drive the same run.
Statuses are the plain strings `drimlab.scenarios.runs` defines.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from drimlab.errors import InputError
from drimlab.store.db import Store
from drimlab.store.models import ScenarioRun, ScenarioStepState, utcnow


@dataclass(frozen=True)
class StepEntry:
    """A step of a new run."""

    step_id: str
    kind: str  # INSTRUCTION | PREUVE | VALIDATION
    status: str


@dataclass(frozen=True)
class StepRow:
    """One step of a stored run."""

    position: int
    step_id: str
    kind: str
    status: str
    detail: str
    exchange_ids: tuple[str, ...]
    report_ids: tuple[str, ...]
    evidence: tuple[Mapping[str, Any], ...]  # [{name, path, sha256, size, ...}]
    facts: Mapping[str, Any]
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RunRow:
    """A stored run and its steps, in order."""

    id: str
    scenario_id: str
    scenario_sha256: str
    mode: str
    status: str
    language: str
    inputs: Mapping[str, Any]
    study_instance_uid: str | None
    kos_sop_instance_uid: str | None
    created_at: datetime
    finished_at: datetime | None
    steps: tuple[StepRow, ...]


def _step_row(row: ScenarioStepState) -> StepRow:
    return StepRow(
        position=row.position,
        step_id=row.step_id,
        kind=row.kind,
        status=row.status,
        detail=row.detail,
        exchange_ids=tuple(row.exchange_ids),
        report_ids=tuple(row.report_ids),
        evidence=tuple(dict(e) for e in row.evidence),
        facts=dict(row.facts),
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _run_row(row: ScenarioRun) -> RunRow:
    return RunRow(
        id=row.id,
        scenario_id=row.scenario_id,
        scenario_sha256=row.scenario_sha256,
        mode=row.mode,
        status=row.status,
        language=row.language,
        inputs=dict(row.inputs),
        study_instance_uid=row.study_instance_uid,
        kos_sop_instance_uid=row.kos_sop_instance_uid,
        created_at=row.created_at,
        finished_at=row.finished_at,
        steps=tuple(_step_row(s) for s in row.steps),
    )


def insert_run(
    store: Store,
    *,
    scenario_id: str,
    scenario_sha256: str,
    mode: str,
    status: str,
    language: str,
    inputs: Mapping[str, Any],
    study_uid: str | None,
    kos_uid: str | None,
    steps: Sequence[StepEntry],
) -> str:
    """Store a new run and its steps (positions in the order given); return its id."""
    row = ScenarioRun(
        id=str(uuid.uuid4()),
        scenario_id=scenario_id,
        scenario_sha256=scenario_sha256,
        mode=mode,
        status=status,
        language=language,
        inputs=dict(inputs),
        study_instance_uid=study_uid,
        kos_sop_instance_uid=kos_uid,
        created_at=utcnow(),
    )
    row.steps = [
        ScenarioStepState(
            position=i,
            step_id=step.step_id,
            kind=step.kind,
            status=step.status,
            detail="",
            exchange_ids=[],
            report_ids=[],
            evidence=[],
            facts={},
        )
        for i, step in enumerate(steps)
    ]
    with store.session() as session:
        session.add(row)
    return row.id


def find_run_row(store: Store, run_id: str) -> RunRow | None:
    """The run with this id, or the one whose id starts with it (4 characters at least).

    InputError when several runs start with it.
    """
    with store.session() as session:
        row = session.get(ScenarioRun, run_id, options=[selectinload(ScenarioRun.steps)])
        if row is None and len(run_id) >= 4:
            rows = session.scalars(
                select(ScenarioRun)
                .where(ScenarioRun.id.startswith(run_id))
                .options(selectinload(ScenarioRun.steps))
            ).all()
            if len(rows) > 1:
                raise InputError(f"run id prefix {run_id!r} is ambiguous")
            row = rows[0] if rows else None
        return None if row is None else _run_row(row)


def run_rows(store: Store) -> list[RunRow]:
    """Every stored run, newest first."""
    with store.session() as session:
        rows = session.scalars(
            select(ScenarioRun)
            .options(selectinload(ScenarioRun.steps))
            .order_by(ScenarioRun.created_at.desc())
        ).all()
        return [_run_row(r) for r in rows]


def update_step_row(
    store: Store,
    run_id: str,
    position: int,
    *,
    status: str | None = None,
    settled: bool = False,
    detail: str | None = None,
    exchange_ids: Sequence[str] | None = None,
    report_ids: Sequence[str] | None = None,
    evidence: Sequence[Mapping[str, Any]] | None = None,
    facts: Mapping[str, Any] | None = None,
    started: bool = False,
) -> None:
    """Change what is given of one step and commit at once (one transaction).

    `started` stamps its start; `settled`, with a `status`, stamps its end.
    """
    with store.session() as session:
        row = session.scalars(
            select(ScenarioStepState).where(
                ScenarioStepState.run_id == run_id, ScenarioStepState.position == position
            )
        ).one()
        if started:
            row.started_at = utcnow()
        if status is not None:
            row.status = status
            if settled:
                row.finished_at = utcnow()
        if detail is not None:
            row.detail = detail
        if exchange_ids is not None:
            row.exchange_ids = list(exchange_ids)
        if report_ids is not None:
            row.report_ids = list(report_ids)
        if evidence is not None:
            row.evidence = [dict(e) for e in evidence]
        if facts is not None:
            row.facts = dict(facts)


def set_run_status(store: Store, run_id: str, status: str, *, settled: bool) -> None:
    """Set a run's status; `settled` stamps its end, otherwise the end is cleared."""
    with store.session() as session:
        row = session.get(ScenarioRun, run_id)
        if row is None:
            raise InputError(f"no scenario run {run_id!r}")
        row.status = status
        row.finished_at = utcnow() if settled else None
