"""The client simulator: a form (a KOS uploaded or an exam picked, base URL, level, Accept
preset, token, certificate) that runs `simulators.consumer.retrieve` or `run_probes` in the
background with a progress bar, then shows the stored exchanges and reports.

The background is the portal's small in-process executor in the lab, and the task queue in a
shared environment (`--task-queue`): the form's values go in the job's row, any `drimlab
worker` runs `run_queued`, which keeps the progress in the row for whichever portal worker
shows the page.
"""

from __future__ import annotations

import functools
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from drimlab.datasets import catalog
from drimlab.errors import DrimlabError, InputError, QuotaExceeded, first_line
from drimlab.portal.auth import read_form
from drimlab.portal.context import RUN_CLIENT, Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.i18n import mark
from drimlab.portal.jobs import Job
from drimlab.portal.reports import rule_catalogue
from drimlab.portal.templating import page
from drimlab.portal.uploads import is_file, save_upload
from drimlab.portal.validators import check_quota_of, selection_of
from drimlab.portal.viewer import require_visible, viewer
from drimlab.simulators.consumer import DRIM_M_ACCEPT, RetrieveOptions, retrieve, run_probes
from drimlab.simulators.retrieval import resolve_target
from drimlab.store.background import (
    JobResult,
    JobRow,
    find_job,
    record_progress,
    run_job,
    seal,
    unseal,
)
from drimlab.store.ownership import MISSING, claim
from drimlab.store.queries import stored_exchange
from drimlab.store.records import load_report


def _accept(uids: list[tuple[str, str]]) -> str:
    return ",".join(
        f'multipart/related; type="application/dicom";transfer-syntax={uid};q={q}'
        for uid, q in uids
    )


ACCEPT_PRESETS: dict[str, tuple[str, str]] = {
    "drim-m": (mark("DRIM-M list"), DRIM_M_ACCEPT),
    "lossless-first": (
        mark("Lossless first"),
        _accept(
            [
                ("1.2.840.10008.1.2.4.70", "1"),
                ("1.2.840.10008.1.2.4.80", "0.9"),
                ("1.2.840.10008.1.2.4.90", "0.8"),
                ("1.2.840.10008.1.2.4.50", "0.5"),
                ("1.2.840.10008.1.2.1", "0.1"),
            ]
        ),
    ),
    "lossy-first": (
        mark("Lossy first"),
        _accept(
            [
                ("1.2.840.10008.1.2.4.50", "1"),
                ("1.2.840.10008.1.2.4.51", "0.9"),
                ("1.2.840.10008.1.2.4.91", "0.8"),
                ("1.2.840.10008.1.2.4.70", "0.5"),
                ("1.2.840.10008.1.2.1", "0.1"),
            ]
        ),
    ),
    "custom": (mark("Custom"), ""),
}
LEVELS = ("study", "series", "instance")
MODES = {"retrieve": mark("Retrieval"), "probes": mark("Probe battery")}


def _defaults(portal: Portal, exam: str = "") -> dict[str, str]:
    return {
        "source": "exam",
        "exam": exam,
        "base_url": portal.simulator.base_url,
        "level": "series",
        "accept_preset": "drim-m",
        "accept": "",
        "token": "",
        "certificate": "consumer",
        "mode": "retrieve",
        "profile": "drim-m",
        "insecure_http": "",
    }


def _form(request: Request, portal: Portal, values: dict[str, str], error: str | None) -> Response:
    exams = catalog.list_exams(portal.store)
    certificates = [e.name for e in portal.env.pki.entries if e.role in ("drimbox", "negative")]
    return page(
        request,
        "client.html.j2",
        status_code=400 if error else 200,
        values=values,
        error=error,
        exams=exams,
        certificates=certificates,
        presets=ACCEPT_PRESETS,
        levels=LEVELS,
        modes=MODES,
    )


async def form_page(request: Request) -> Response:
    portal = portal_of(request)
    values = _defaults(portal, request.query_params.get("exam", ""))
    return await run_in_threadpool(_form, request, portal, values, None)


def options_of(portal: Portal, values: dict[str, str], kos_path: Path | None) -> RetrieveOptions:
    """The RetrieveOptions the form describes (InputError for what does not fit)."""
    if kos_path is None:
        exam = catalog.find_exam(portal.store, values.get("exam", ""))
        if exam is None or exam.kos is None:
            raise InputError(_("pick an exam with a KOS, or upload a KOS"))
        kos_path = exam.kos.path
    level = values.get("level", "series")
    if level not in LEVELS:
        raise InputError(_("unknown level") + f": {level!r}")
    preset = values.get("accept_preset", "drim-m")
    if preset not in ACCEPT_PRESETS:
        raise InputError(_("unknown Accept preset") + f": {preset!r}")
    accept = values.get("accept", "").strip() if preset == "custom" else ACCEPT_PRESETS[preset][1]
    if preset == "custom" and not accept:
        raise InputError(_("write the custom Accept header"))
    name = values.get("certificate", "consumer")
    pki = portal.env.pki
    if name not in {e.name for e in pki.entries}:
        raise InputError(_("unknown certificate") + f": {name!r}")
    base = values.get("base_url", "").strip() or None
    insecure = values.get("insecure_http") == "on" or bool(base and base.startswith("http://"))
    return RetrieveOptions(
        base_url=base,
        kos_path=kos_path,
        level=level,  # type: ignore[arg-type]
        accept=accept or None,
        token=values.get("token", "").strip() or None,
        cert=pki.chain_path(name),
        key=pki.key_path(name),
        insecure_http=insecure,
        selection=selection_of(values),
        timeout=60.0,
    )


def _run(
    portal: Portal,
    options: RetrieveOptions,
    mode: str,
    job: Job,
    tick: Callable[[], None] | None = None,
) -> None:
    try:
        _work(portal, options, mode, job, tick)
    finally:  # what it stored belongs to the organisation it ran for, even when it failed
        claim(portal.store, job.owner, exchange_ids=job.exchange_ids, report_ids=job.report_ids)
        _forget_upload(portal, options.kos_path)


def _forget_upload(portal: Portal, kos_path: Path | None) -> None:
    """Remove the KOS uploaded for one run once the run is over (an exam's KOS stays)."""
    uploads = portal.uploads_dir / "client"
    if kos_path is not None and kos_path.parent.parent == uploads:
        shutil.rmtree(kos_path.parent, ignore_errors=True)


def _work(
    portal: Portal,
    options: RetrieveOptions,
    mode: str,
    job: Job,
    tick: Callable[[], None] | None = None,
) -> None:
    target = resolve_target(options)
    if target.kos is not None:
        job.steps_total = sum(
            len(s.instances) for s in target.kos.series if s.series_instance_uid in target.series
        )
    if mode == "probes":
        job.steps_total = 0
        report_id, report = run_probes(portal.store, portal.settings, options, burst=4)
        job.report_ids.append(report_id)
        job.verdict = report.verdict.value
        return
    counted = {"base": 0, "last": 0}

    def progress(parts: int, size: int) -> None:
        if parts < counted["last"]:  # the counters restart at each request
            counted["base"] += counted["last"]
        counted["last"] = parts
        job.parts = counted["base"] + parts
        job.steps_done = job.parts
        job.bytes = size
        if tick is not None:
            tick()

    result = retrieve(portal.store, portal.settings, options, progress=progress)
    job.exchange_ids.extend(r.exchange_id for r in result.records)
    job.report_ids.extend(r.report_id for r in result.records)
    job.verdict = result.verdict.value


async def start(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request, max_files=2, max_fields=30)
    values = {**_defaults(portal), **{k: str(v) for k, v in form.items() if isinstance(v, str)}}
    values["insecure_http"] = "on" if form.get("insecure_http") == "on" else ""
    owner = viewer(request).organisation_id
    try:
        await run_in_threadpool(check_quota_of, portal, owner)
    except QuotaExceeded as exc:  # nothing is run, nothing stored: 429
        await form.close()
        answer = await run_in_threadpool(_form, request, portal, values, str(exc))
        answer.status_code = 429
        return answer
    try:
        kos_path = None
        upload = form.get("kos")
        if values.get("source") == "upload":
            if not (is_file(upload) and isinstance(upload, UploadFile)):
                raise InputError(_("choose a KOS file to upload"))
            folder = portal.uploads_dir / "client" / uuid.uuid4().hex
            folder.mkdir(parents=True)
            kos_path = await save_upload(upload, folder, portal.upload_limit, what="KOS")
        options = await run_in_threadpool(options_of, portal, values, kos_path)
        await run_in_threadpool(resolve_target, options)  # a bad KOS is said here, not later
    except DrimlabError as exc:
        await form.close()
        return await run_in_threadpool(_form, request, portal, values, str(exc).splitlines()[0])
    await form.close()
    mode = values.get("mode", "retrieve")
    if mode not in MODES:
        mode = "retrieve"
    label = f"{mode} {options.base_url or ''}".strip()
    if portal.queue is not None:  # a shared environment: any task worker runs it
        inputs = {
            "label": label,
            "mode": mode,
            "values": {k: v for k, v in values.items() if k not in ("csrf", "token")},
            "token": seal(portal.settings.home, values["token"]) if values.get("token") else "",
            "kos": str(kos_path.relative_to(portal.settings.home)) if kos_path else None,
        }
        job_id = await portal.enqueue(RUN_CLIENT, mode, owner, inputs)
        return RedirectResponse(f"/client/jobs/{job_id}", status_code=303)
    job = portal.jobs.submit(mode, label, lambda job: _run(portal, options, mode, job), owner)
    return RedirectResponse(f"/client/jobs/{job.id}", status_code=303)


PROGRESS_EVERY = 0.5  # seconds between two progress records of a queued run


def run_queued(portal: Portal, job_id: str) -> None:
    """Run a client-simulator job of the task queue and settle its row (a worker's side).

    A job retried after its worker died runs again from the start; a job already done is
    not run twice. What fails is said in the row in one line, as the in-process jobs do.
    """
    run_job(portal.store, job_id, functools.partial(_run_row, portal))


def _run_row(portal: Portal, row: JobRow) -> JobResult:
    job = Job.from_row(row)
    job.exchange_ids.clear()
    job.report_ids.clear()
    values = {str(k): str(v) for k, v in dict(row.inputs.get("values", {})).items()}
    values["token"] = unseal(portal.settings.home, str(row.inputs.get("token") or ""))
    kos = row.inputs.get("kos")
    last = [0.0]

    def tick() -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            record_progress(portal.store, row.id, job.outcome())

    error = ""
    try:
        check_quota_of(portal, row.organisation_id)  # reached while the job waited?
        options = options_of(portal, values, portal.settings.home / str(kos) if kos else None)
        _run(portal, options, str(row.inputs.get("mode", "retrieve")), job, tick)
    except Exception as exc:  # the run's page shows its one-line reason, with what it stored
        error = first_line(exc)
    return JobResult(report_ids=job.report_ids, outcome=job.outcome(), error=error)


def _results(portal: Portal, job: Job) -> list[dict[str, Any]]:
    shown = []
    for exchange_id, report_id in zip(job.exchange_ids, job.report_ids, strict=False):
        shown.append(
            {
                "exchange": stored_exchange(portal.store, exchange_id),
                "report": load_report(portal.store, report_id),
                "report_id": report_id,
            }
        )
    if not job.exchange_ids:
        shown.extend(
            {"exchange": None, "report": load_report(portal.store, r), "report_id": r}
            for r in job.report_ids
        )
    return shown[:20]


async def job_page(request: Request) -> Response:
    portal = portal_of(request)
    job = portal.jobs.get(request.path_params["job_id"])
    if job is None:  # a job of the task queue, run by any worker
        row = await run_in_threadpool(find_job, portal.store, request.path_params["job_id"])
        job = Job.from_row(row) if row is not None and row.kind in MODES else None
    if job is not None and not viewer(request).sees_everything:
        job = job if job.owner == viewer(request).organisation_id else None
    if job is None:
        raise HTTPException(404, _("No such run (runs are forgotten when the portal restarts)"))
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(job.as_dict())
    results = await run_in_threadpool(_results, portal, job) if job.finished else []
    return page(request, "client_job.html.j2", job=job, results=results, catalogue=rule_catalogue())


async def job_state(request: Request) -> Response:
    """GET /jobs/{id}: where a job of the task queue stands, for the page that follows it."""
    row = await run_in_threadpool(find_job, portal_of(request).store, request.path_params["job_id"])
    require_visible(request, row.organisation_id if row is not None else MISSING)
    assert row is not None
    return JSONResponse(Job.from_row(row).as_dict())


routes = [
    Route("/jobs/{job_id}", job_state),
    Route("/client", form_page),
    Route("/client", start, methods=["POST"]),
    Route("/client/jobs/{job_id}", job_page),
]
