"""Background work of the lab portal (client simulator runs, probe batteries): a bounded
in-process executor with a progress record per job.

This is the lab portal's stand-in for a task queue: one machine, one process, at most
`MAX_WORKERS` jobs at once, jobs forgotten when the process stops (their exchanges and
reports are in the store). The shared environment (`drimlab portal --task-queue`) runs them
on the task queue instead (`portal.queue`); `Job.from_row` shows such a job the same way.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

from drimlab.store.background import JobRow

MAX_WORKERS = 2
KEPT_JOBS = 200


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Job:
    """What a page shows of one background job."""

    id: str
    kind: str
    label: str
    state: JobState = JobState.QUEUED
    parts: int = 0
    bytes: int = 0
    steps_done: int = 0
    steps_total: int = 0
    error: str = ""
    exchange_ids: list[str] = field(default_factory=list)
    report_ids: list[str] = field(default_factory=list)
    owner: int | None = None  # the organisation it runs for (accounts on)
    verdict: str = ""
    started_at: float = field(default_factory=time.time)

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        """The page's view of a job of the task queue, from its stored row."""
        outcome = row.outcome
        return cls(
            id=row.id,
            kind=row.kind,
            label=str(row.inputs.get("label", row.kind)),
            state=JobState(row.state),
            parts=int(outcome.get("parts", 0)),
            bytes=int(outcome.get("bytes", 0)),
            steps_done=int(outcome.get("steps_done", 0)),
            steps_total=int(outcome.get("steps_total", 0)),
            error=row.error,
            exchange_ids=[str(e) for e in outcome.get("exchange_ids", [])],
            report_ids=list(row.report_ids),
            owner=row.organisation_id,
            verdict=str(outcome.get("verdict", "")),
            started_at=row.created_at.timestamp(),
        )

    def outcome(self) -> dict[str, object]:
        """What a job of the task queue keeps in its row besides its reports."""
        return {
            "parts": self.parts,
            "bytes": self.bytes,
            "steps_done": self.steps_done,
            "steps_total": self.steps_total,
            "exchange_ids": list(self.exchange_ids),
            "verdict": self.verdict,
        }

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def percent(self) -> int:
        if self.state is JobState.DONE:
            return 100
        if self.steps_total:
            return min(99, int(100 * self.steps_done / self.steps_total))
        return 0

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state.value,
            "percent": self.percent,
            "parts": self.parts,
            "bytes": self.bytes,
            "steps_done": self.steps_done,
            "steps_total": self.steps_total,
            "error": self.error,
            "verdict": self.verdict,
            "finished": self.finished,
        }


class Jobs:
    """Runs jobs on a small thread pool and remembers the last `KEPT_JOBS` of them."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="portal-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(
        self, kind: str, label: str, work: Callable[[Job], None], owner: int | None = None
    ) -> Job:
        """Queue `work(job)`; it fills the job's progress and results. An exception fails it."""
        job = Job(id=uuid.uuid4().hex, kind=kind, label=label, owner=owner)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEPT_JOBS:
                self._jobs.popitem(last=False)

        def run() -> None:
            job.state = JobState.RUNNING
            try:
                work(job)
            except Exception as exc:  # shown on the job's page as its one-line reason
                job.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                job.state = JobState.FAILED
                return
            job.state = JobState.DONE

        self._pool.submit(run)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job_id: str, timeout: float) -> bool:
        """Wait until a job finishes (tests); False if it did not in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job is None or job.finished:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
