"""A run's signed evidence bundle, exported in the request in the lab and by a task worker in
a shared environment.

With the task queue (`--task-queue`) the first request for a bundle queues an `export_bundle`
job naming the run and the point it has reached (its stamp); the request is answered 202 with
that job, and once a worker has written the zip under the shared data directory, the same
URL serves it. A run that moves on (another step settled) gets a new export; a run that has
not is served the zip already made.
"""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool

from drimlab.portal.context import EXPORT_BUNDLE, Portal
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.runs import RunState, StepStatus, load_run
from drimlab.scenarios.signing import Signer
from drimlab.store.background import JobResult, JobRow, find_job, latest_job, run_job

KIND = "bundle"


def export_run_bundle(portal: Portal, run_id: str, folder: Path | None = None) -> Path:
    """Export a run's signed evidence bundle (into `folder`, else `exports/`); its path."""
    run = load_run(portal.store, run_id)
    folder = folder or portal.settings.home / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"evidence-{run.scenario_id}-{run.id[:8]}.zip"
    export_bundle(portal.store, run.id, target, Signer.from_pki(portal.env.pki))
    return target


def run_stamp(run: RunState) -> str:
    """Where a run stands, as far as its bundle goes: its status and its settled steps."""
    settled = sum(1 for step in run.steps if step.status is not StepStatus.WAITING)
    return f"{run.status.value}:{settled}/{len(run.steps)}"


async def bundle_or_job(portal: Portal, run_id: str, organisation_id: int | None) -> Path | JobRow:
    """The bundle's zip when it is ready, else the job that makes it (queued if need be).

    Without a task queue the bundle is exported here. A failed export of the same point of
    the run is returned as it is (its one-line reason), not queued again.
    """
    if portal.queue is None:
        return await run_in_threadpool(export_run_bundle, portal, run_id)
    run = await run_in_threadpool(load_run, portal.store, run_id)
    stamp = run_stamp(run)
    job = await run_in_threadpool(latest_job, portal.store, KIND, run.id)
    if job is not None and job.inputs.get("stamp") == stamp:
        made = portal.settings.home / str(job.outcome.get("file", ""))
        if job.state != "done":
            return job
        if job.outcome.get("file") and made.is_file():
            return made
    inputs = {"run_id": run.id, "stamp": stamp, "label": f"{run.scenario_id} {run.id[:8]}"}
    job_id = await portal.enqueue(EXPORT_BUNDLE, KIND, organisation_id, inputs, subject=run.id)
    queued = await run_in_threadpool(find_job, portal.store, job_id)
    assert queued is not None
    return queued


def export_queued(portal: Portal, job_id: str) -> None:
    """Export the bundle a job names and settle the job (a task worker's side)."""

    def export(row: JobRow) -> JobResult:
        made = export_run_bundle(
            portal, str(row.inputs["run_id"]), portal.settings.home / "exports" / row.id
        )
        relative = str(made.relative_to(portal.settings.home))
        return JobResult(outcome={"file": relative, "size": made.stat().st_size})

    run_job(portal.store, job_id, export)
