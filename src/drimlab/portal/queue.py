"""Background work of a shared environment on a proven task queue: procrastinate on the
store's PostgreSQL database.

The portal (or API) worker that receives the work saves its inputs under the shared data
directory, records a `BackgroundJob` row (`Portal.enqueue`) and defers a task with the row's
id; any `drimlab worker` process takes it, does it with the same code as the lab does in
process, and settles the row. The tasks: `validate_upload` (a larger validation,
`run_validation`), `run_client` (a client-simulator retrieval or probe battery,
`client.run_queued`), `export_bundle` (a run's signed bundle, `bundles.export_queued`) and
`resume_run` (a run advanced through the API or a run page's VALIDATION step,
`api_runs.resume_queued`). Jobs live in PostgreSQL: a portal
worker or a task worker can be stopped or added at any time, and a job whose worker died
(no heartbeat) is put back in the queue by `retry_stalled_jobs`, which every worker runs
every 15 seconds. The lab portal without a database server keeps its in-process executor.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import procrastinate
from sqlalchemy import make_url

from drimlab.config import Settings
from drimlab.errors import ConfigurationError, DrimlabError
from drimlab.portal import api_runs, bundles, client
from drimlab.portal.context import QUEUE, Portal
from drimlab.portal.validators import run_validation, selection_of
from drimlab.store.background import JobResult, JobRow, run_job

STALLED_SECONDS = 60  # a running job whose worker has not beaten for this long is retried


def conninfo(settings: Settings) -> str:
    """The libpq connection string of the store's PostgreSQL database."""
    if settings.is_sqlite:
        raise ConfigurationError(
            "the task queue needs PostgreSQL: set DRIMLAB_DATABASE_URL=postgresql://..."
        )
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def queue_app(settings: Settings) -> procrastinate.App:
    """The procrastinate application over the store's database, with drimlab's tasks."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(settings)))
    # a blueprint of its own: adding one to an app renames its tasks in place
    app.add_tasks_from(_tasks(), namespace="drimlab")
    return app


def apply_queue_schema(app: procrastinate.App) -> None:
    """Create procrastinate's tables once (a second call finds them and does nothing)."""
    with app.open():
        exists = app.connector.get_sync_connector().execute_query_one(
            "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
        )
        if not exists["present"]:
            app.schema_manager.apply_schema()


def validate_inputs(portal: Portal, job_id: str) -> None:
    """Run one queued validation and settle its row (idempotent when retried)."""
    run_job(portal.store, job_id, functools.partial(_validate, portal))


def _validate(portal: Portal, job: JobRow) -> JobResult:
    folder = portal.settings.home / str(job.inputs["folder"])
    files: dict[str, list[Path]] = {
        field: [folder / name for name in names] for field, names in job.inputs["files"].items()
    }
    values = {str(k): str(v) for k, v in job.inputs["values"].items()}
    try:
        done = run_validation(
            portal,
            str(job.inputs["validator"]),
            files,
            selection_of(values),
            values.get("bench") in {"1", "true", "on"},
            organisation_id=job.organisation_id,
        )
    except DrimlabError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return JobResult(report_ids=done.report_ids)


def _tasks() -> procrastinate.Blueprint:
    """drimlab's tasks: the background validation, and the retry of stalled jobs."""
    tasks = procrastinate.Blueprint()

    @tasks.task(name="validate_upload", queue=QUEUE, pass_context=True)
    def validate_upload(context: procrastinate.JobContext, job_id: str) -> None:
        portal = context.additional_context["portal"]
        assert isinstance(portal, Portal)
        validate_inputs(portal, job_id)

    @tasks.task(name="run_client", queue=QUEUE, pass_context=True)
    def run_client(context: procrastinate.JobContext, job_id: str) -> None:
        portal = context.additional_context["portal"]
        assert isinstance(portal, Portal)
        client.run_queued(portal, job_id)

    @tasks.task(name="export_bundle", queue=QUEUE, pass_context=True)
    def export_bundle(context: procrastinate.JobContext, job_id: str) -> None:
        portal = context.additional_context["portal"]
        assert isinstance(portal, Portal)
        bundles.export_queued(portal, job_id)

    @tasks.task(name="resume_run", queue=QUEUE, pass_context=True)
    def resume_run(context: procrastinate.JobContext, job_id: str) -> None:
        portal = context.additional_context["portal"]
        assert isinstance(portal, Portal)
        api_runs.resume_queued(portal, job_id)

    @tasks.periodic(cron="* * * * * */15", periodic_id="retry-stalled")  # every 15 s
    @tasks.task(
        name="retry_stalled_jobs",
        queue=QUEUE,
        queueing_lock="retry_stalled_jobs",
        pass_context=True,
    )
    async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
        """Put back in the queue the jobs whose worker stopped beating (killed, lost)."""
        manager = context.app.job_manager
        after = float(context.additional_context.get("stalled_after", STALLED_SECONDS))
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=after):
            await manager.retry_job(job)

    @tasks.periodic(cron="7 * * * *", periodic_id="purge-expired")  # hourly
    @tasks.task(name="purge_expired", queue=QUEUE, queueing_lock="purge_expired", pass_context=True)
    def purge_expired(context: procrastinate.JobContext, timestamp: int) -> None:
        """Remove what is older than DRIMLAB_RETENTION_DAYS (nothing when it is not set)."""
        from datetime import timedelta  # noqa: PLC0415 - this task's own needs

        from drimlab.store.retention import purge  # noqa: PLC0415

        portal = context.additional_context["portal"]
        assert isinstance(portal, Portal)
        days = portal.settings.retention_days
        if days is not None:
            purge(portal.store, portal.settings, timedelta(days=days))

    return tasks


def run_worker(
    portal: Portal, *, concurrency: int = 1, stalled_after: int = STALLED_SECONDS
) -> None:
    """Take jobs from the queue until stopped (SIGINT/SIGTERM finish the current jobs).

    The worker beats every `stalled_after / 4` seconds; a running job whose worker has not
    beaten for `stalled_after` seconds is retried by any worker.
    """
    app = queue_app(portal.settings)
    apply_queue_schema(app)
    context: dict[str, Any] = {"portal": portal, "stalled_after": stalled_after}
    beat = max(1.0, stalled_after / 4)
    app.run_worker(
        queues=[QUEUE],
        concurrency=concurrency,
        additional_context=context,
        update_heartbeat_interval=beat,
        stalled_worker_timeout=float(stalled_after),
    )
