"""Scenario runs in the store: created with every step `waiting`, updated step by step.

A run survives an interruption because each step's state is committed as soon as it
changes; `resume` picks up at the first step still `waiting`. Evidence files a user hands
in are copied under `<home>/evidence/<run id>/<step id>/` and kept with their SHA-256.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from drimlab.errors import InputError
from drimlab.scenarios.schema import Scenario
from drimlab.store import Store
from drimlab.store.scenario_runs import (
    RunRow,
    StepEntry,
    StepRow,
    find_run_row,
    insert_run,
    run_rows,
    set_run_status,
    update_step_row,
)


class StepStatus(StrEnum):
    """Where a step stands."""

    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunStatus(StrEnum):
    """Where a run stands: `running` until its last step is settled."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class EvidenceFile:
    """A file attached to a step: handed in by the user or produced by drimlab."""

    name: str
    path: str  # relative to the drimlab home
    sha256: str
    size: int
    original: str
    origin: str = "user"  # user | drimlab

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceFile:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class StepState:
    """One step of a stored run."""

    position: int
    step_id: str
    kind: str
    status: StepStatus
    detail: str
    exchange_ids: tuple[str, ...]
    report_ids: tuple[str, ...]
    evidence: tuple[EvidenceFile, ...]
    facts: Mapping[str, Any]
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class RunState:
    """A stored run and its steps."""

    id: str
    scenario_id: str
    scenario_sha256: str
    mode: str
    status: RunStatus
    language: str
    inputs: Mapping[str, Any]
    study_instance_uid: str | None
    kos_sop_instance_uid: str | None
    created_at: datetime
    finished_at: datetime | None
    steps: tuple[StepState, ...]

    def next_waiting(self) -> StepState | None:
        return next((s for s in self.steps if s.status is StepStatus.WAITING), None)


def _step_state(row: StepRow) -> StepState:
    return StepState(
        position=row.position,
        step_id=row.step_id,
        kind=row.kind,
        status=StepStatus(row.status),
        detail=row.detail,
        exchange_ids=tuple(row.exchange_ids),
        report_ids=tuple(row.report_ids),
        evidence=tuple(EvidenceFile.from_dict(e) for e in row.evidence),
        facts=dict(row.facts),
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _run_state(row: RunRow) -> RunState:
    return RunState(
        id=row.id,
        scenario_id=row.scenario_id,
        scenario_sha256=row.scenario_sha256,
        mode=row.mode,
        status=RunStatus(row.status),
        language=row.language,
        inputs=dict(row.inputs),
        study_instance_uid=row.study_instance_uid,
        kos_sop_instance_uid=row.kos_sop_instance_uid,
        created_at=row.created_at,
        finished_at=row.finished_at,
        steps=tuple(_step_state(s) for s in row.steps),
    )


def create_run(
    store: Store,
    scenario: Scenario,
    *,
    mode: str,
    language: str,
    inputs: Mapping[str, Any],
    study_uid: str | None,
    kos_uid: str | None,
) -> RunState:
    """Store a new run with every step waiting."""
    run_id = insert_run(
        store,
        scenario_id=scenario.id,
        scenario_sha256=scenario.sha256,
        mode=mode,
        status=RunStatus.RUNNING.value,
        language=language,
        inputs=inputs,
        study_uid=study_uid,
        kos_uid=kos_uid,
        steps=[
            StepEntry(step_id=step.id, kind=step.kind.value, status=StepStatus.WAITING.value)
            for step in scenario.steps
        ],
    )
    return load_run(store, run_id)


def load_run(store: Store, run_id: str) -> RunState:
    """The stored run (a unique prefix of its id is enough); InputError if unknown."""
    row = find_run_row(store, run_id)
    if row is None:
        raise InputError(f"no scenario run {run_id!r} (see: drimlab scenario runs)")
    return _run_state(row)


def list_runs(store: Store) -> list[RunState]:
    """Every stored run, newest first."""
    return [_run_state(r) for r in run_rows(store)]


def update_step(
    store: Store,
    run_id: str,
    position: int,
    *,
    status: StepStatus | None = None,
    detail: str | None = None,
    exchange_ids: Sequence[str] | None = None,
    report_ids: Sequence[str] | None = None,
    evidence: Sequence[EvidenceFile] | None = None,
    facts: Mapping[str, Any] | None = None,
    started: bool = False,
) -> None:
    """Change one step's state and commit at once."""
    update_step_row(
        store,
        run_id,
        position,
        status=status.value if status is not None else None,
        settled=status is not None and status is not StepStatus.WAITING,
        detail=detail,
        exchange_ids=exchange_ids,
        report_ids=report_ids,
        evidence=[e.as_dict() for e in evidence] if evidence is not None else None,
        facts=facts,
        started=started,
    )


def finish_run(store: Store, run_id: str, status: RunStatus) -> None:
    set_run_status(store, run_id, status.value, settled=status is not RunStatus.RUNNING)


def evidence_dir(store: Store, run_id: str, step_id: str) -> Path:
    return store.settings.home / "evidence" / run_id / step_id


def keep_evidence(
    store: Store, run_id: str, step_id: str, name: str, source: Path, *, origin: str = "user"
) -> EvidenceFile:
    """Copy an evidence file into the run's evidence folder; InputError if it is unreadable."""
    if not source.is_file():
        raise InputError(f"evidence file {source} does not exist or is not a file")
    target_dir = evidence_dir(store, run_id, step_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{name}--{source.name}"
    digest = hashlib.sha256()
    temp = target.with_name(f".{target.name}.part")
    try:
        with source.open("rb") as reader, temp.open("wb") as writer:
            while chunk := reader.read(1024 * 1024):
                digest.update(chunk)
                writer.write(chunk)
        temp.replace(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"cannot keep evidence file {source}: {exc.strerror}") from None
    return EvidenceFile(
        name=name,
        path=str(target.relative_to(store.settings.home)),
        sha256=digest.hexdigest(),
        size=target.stat().st_size,
        original=source.name,
        origin=origin,
    )


def copy_into(source: Path, target: Path) -> None:
    """Copy a file, creating the folders on the way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
