"""The client simulator: a form (a KOS uploaded or an exam picked, base URL, level, Accept
preset, token, certificate) that runs `simulators.consumer.retrieve` or `run_probes` in the
background with a progress bar, then shows the stored exchanges and reports.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from drimlab.datasets import catalog
from drimlab.errors import DrimlabError, InputError
from drimlab.portal.auth import read_form
from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.i18n import mark
from drimlab.portal.jobs import Job
from drimlab.portal.reports import rule_catalogue
from drimlab.portal.templating import page
from drimlab.portal.uploads import is_file, save_upload
from drimlab.portal.validators import selection_of
from drimlab.portal.viewer import viewer
from drimlab.simulators.consumer import DRIM_M_ACCEPT, RetrieveOptions, retrieve, run_probes
from drimlab.simulators.retrieval import resolve_target
from drimlab.store.ownership import claim
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


def _run(portal: Portal, options: RetrieveOptions, mode: str, job: Job) -> None:
    try:
        _work(portal, options, mode, job)
    finally:  # what it stored belongs to the organisation it ran for, even when it failed
        claim(portal.store, job.owner, exchange_ids=job.exchange_ids, report_ids=job.report_ids)


def _work(portal: Portal, options: RetrieveOptions, mode: str, job: Job) -> None:
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

    result = retrieve(portal.store, portal.settings, options, progress=progress)
    job.exchange_ids.extend(r.exchange_id for r in result.records)
    job.report_ids.extend(r.report_id for r in result.records)
    job.verdict = result.verdict.value


async def start(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request, max_files=2, max_fields=30)
    values = {**_defaults(portal), **{k: str(v) for k, v in form.items() if isinstance(v, str)}}
    values["insecure_http"] = "on" if form.get("insecure_http") == "on" else ""
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
    owner = viewer(request).organisation_id
    job = portal.jobs.submit(mode, label, lambda job: _run(portal, options, mode, job), owner)
    return RedirectResponse(f"/client/jobs/{job.id}", status_code=303)


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
    if job is not None and not viewer(request).sees_everything:
        job = job if job.owner == viewer(request).organisation_id else None
    if job is None:
        raise HTTPException(404, _("No such run (runs are forgotten when the portal restarts)"))
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(job.as_dict())
    results = await run_in_threadpool(_results, portal, job) if job.finished else []
    return page(request, "client_job.html.j2", job=job, results=results, catalogue=rule_catalogue())


routes = [
    Route("/client", form_page),
    Route("/client", start, methods=["POST"]),
    Route("/client/jobs/{job_id}", job_page),
]
