"""Scenario runs through the REST API, so that a vendor's CI can drive a run remotely: start
a run, upload the evidence of its PREUVE steps, resume it (bounded steps), read its steps'
states and export its signed bundle.

The same library path as the portal's pages and `drimlab scenario run|resume`: the runs are
started by `scenarios.runner.start_run` and advanced by `scenarios.runner.drive_run`, one
step at a time as the portal does; the evidence is kept by the runner (`keep_evidence`).
An uploaded file waits under the portal's uploads folder until a resume reaches its step.
A run belongs to the caller's organisation; another organisation's run id is answered 404.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from drimlab.errors import DrimlabError, InputError, QuotaExceeded, first_line
from drimlab.portal.api import authenticated, job_document, over_quota
from drimlab.portal.bundles import bundle_or_job
from drimlab.portal.context import RESUME_RUN, Portal, portal_of
from drimlab.portal.scenarios import WebPrompter, claim_run, run_lock
from drimlab.portal.uploads import is_file, safe_name, save_upload
from drimlab.portal.validators import check_quota_of, selection_of
from drimlab.portal.viewer import require_visible, viewer
from drimlab.scenarios.loader import get_scenario
from drimlab.scenarios.runner import drive_run, start_run
from drimlab.scenarios.runs import RunState, RunStatus, StepStatus, load_run
from drimlab.scenarios.schema import Scenario, StepKind
from drimlab.store.background import JobResult, JobRow, run_job
from drimlab.store.ownership import owner_of_run
from drimlab.store.reviews import reviews_of

SELECTION = ("profile", "select", "ignore", "severity")


def _scenario(portal: Portal, scenario_id: str) -> Scenario:
    try:
        return get_scenario(scenario_id, portal.settings)
    except InputError:
        raise HTTPException(404, f"no such scenario {scenario_id!r}") from None


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the JSON body must be an object")
    return body


def _text_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, str | int | bool) for v in value.values()
    ):
        raise InputError(f"'{what}' must be an object of text values")
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


def _start(portal: Portal, body: dict[str, Any]) -> RunState:
    scenario_id = body.get("scenario")
    if not isinstance(scenario_id, str) or not scenario_id:
        raise InputError("'scenario' (a scenario id) is required")
    scenario = _scenario(portal, scenario_id)
    inputs = _text_map(body.get("inputs"), "inputs")
    known = {spec.name for spec in scenario.inputs}
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise InputError(f"{scenario.id} has no input {', '.join(unknown)}")
    given = {k: v.strip() for k, v in inputs.items() if v.strip()}
    if "base_url" in known and "base_url" not in given and "kos_file" not in given:
        given["base_url"] = portal.simulator.base_url
    chosen = {k: str(body[k]) for k in SELECTION if isinstance(body.get(k), str)}
    chosen.setdefault("profile", given.get("profile", "drim-m"))
    language = body.get("language", "en")
    return start_run(
        portal.store,
        portal.settings,
        scenario,
        given,
        interactive=True,
        language=language if isinstance(language, str) else "",
        prompter=WebPrompter(),
        selection=selection_of(chosen),
    )


async def create(request: Request) -> Response:
    """POST /api/runs: start a run of a scenario for the caller's organisation; 201."""
    account = await authenticated(request, changes=True)
    portal = portal_of(request)
    body = await _json_object(request)
    try:
        await run_in_threadpool(check_quota_of, portal, account.organisation_id)
    except QuotaExceeded as exc:
        return over_quota(exc)
    try:
        run = await run_in_threadpool(_start, portal, body)
    except DrimlabError as exc:
        raise HTTPException(400, first_line(exc)) from None
    await run_in_threadpool(claim_run, portal, run.id, account.organisation_id)
    answer = await run_in_threadpool(_run, portal, run.id)
    return JSONResponse(answer, status_code=201, headers={"Location": answer["links"]["self"]})


async def _visible_run(request: Request, *, changes: bool = False) -> str:
    await authenticated(request, changes=changes)
    run_id = str(request.path_params["run_id"])
    owner = await run_in_threadpool(owner_of_run, portal_of(request).store, run_id)
    require_visible(request, owner)
    return run_id


def _pending(portal: Portal, run_id: str) -> Path:
    """Where the evidence uploaded for a run waits until a resume reaches its step."""
    return portal.uploads_dir / "run-evidence" / safe_name(run_id)


def _waiting_files(portal: Portal, run_id: str, step_id: str, name: str) -> list[Path]:
    folder = _pending(portal, run_id) / safe_name(step_id) / safe_name(name)
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def _run(portal: Portal, run_id: str) -> dict[str, Any]:
    try:
        run = load_run(portal.store, run_id)
    except InputError:
        raise HTTPException(404, "not found") from None
    scenario = _scenario(portal, run.scenario_id)
    steps = []
    for state in run.steps:
        step = scenario.steps[state.position]
        item: dict[str, Any] = {
            "id": state.step_id,
            "kind": state.kind,
            "status": state.status.value,
            "detail": state.detail,
            "reports": list(state.report_ids),
            "exchanges": list(state.exchange_ids),
            "evidence": [
                {"name": e.name, "original": e.original, "sha256": e.sha256, "size": e.size}
                for e in state.evidence
            ],
        }
        if step.kind is StepKind.PREUVE and state.status is StepStatus.WAITING:
            item["uploaded"] = {
                name: [p.name for p in _waiting_files(portal, run.id, step.id, name)]
                for name in step.evidence
            }
        steps.append(item)
    waiting = run.next_waiting()
    own = f"/api/runs/{run.id}"
    return {
        "id": run.id,
        "scenario": run.scenario_id,
        "status": run.status.value,
        "createdAt": run.created_at.isoformat(),
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
        "waiting": waiting.step_id if waiting is not None else None,
        "steps": steps,
        "reviews": [
            {
                "status": r.status,
                "comment": r.comment,
                "monitor": r.monitor,
                "createdAt": r.created_at.isoformat(),
            }
            for r in reviews_of(portal.store, run.id)
        ],
        "links": {
            "self": own,
            "resume": f"{own}/resume",
            "evidence": f"{own}/evidence/{{step}}",
            "bundle": f"{own}/bundle",
            "page": f"/runs/{run.id}",
        },
    }


async def get_run(request: Request) -> Response:
    run_id = await _visible_run(request)
    return JSONResponse(await run_in_threadpool(_run, portal_of(request), run_id))


def _preuve_step(portal: Portal, run_id: str, step_id: str, name: str | None) -> tuple[str, str]:
    """The (step, evidence name) an upload is for; InputError if the run cannot take it."""
    run = load_run(portal.store, run_id)
    if run.status is not RunStatus.RUNNING:
        raise InputError(f"run {run.id} is finished ({run.status.value})")
    scenario = _scenario(portal, run.scenario_id)
    found = [(s, st) for s, st in zip(scenario.steps, run.steps, strict=False) if s.id == step_id]
    if not found:
        raise HTTPException(404, f"{scenario.id} has no step {step_id!r}")
    step, state = found[0]
    if step.kind is not StepKind.PREUVE:
        raise InputError(f"step {step_id} is a {step.kind.value} step, not a PREUVE step")
    if state.status is not StepStatus.WAITING:
        raise InputError(f"step {step_id} is already settled ({state.status.value})")
    if name is None and len(step.evidence) == 1:
        name = step.evidence[0]
    if name not in step.evidence:
        raise InputError(f"step {step_id} takes the evidence {', '.join(step.evidence)}")
    return step.id, name


async def _raw_upload(request: Request, folder: Path, limit: int, name: str) -> Path:
    target = folder / name
    written = 0
    try:
        with target.open("wb") as handle:
            async for chunk in request.stream():  # bounded by the portal's BodyLimit too
                written += len(chunk)
                if written > limit:
                    raise HTTPException(413, f"larger than the limit of {limit >> 20} MB")
                handle.write(chunk)
        if written == 0:
            raise InputError("the request body is empty: send the evidence file")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


async def upload_evidence(request: Request) -> Response:
    """POST /api/runs/{id}/evidence/{step}: a file for a PREUVE step, kept at the next resume
    (one file per evidence name: a new upload replaces the one before)."""
    run_id = await _visible_run(request, changes=True)
    portal = portal_of(request)
    step_id = str(request.path_params["step"])
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    asked = request.query_params.get("name")
    scratch = _pending(portal, run_id) / ".incoming"
    scratch.mkdir(parents=True, exist_ok=True)
    saved: Path | None = None
    try:
        if media == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=5)
            try:
                uploads = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
                files = [(k, v) for k, v in uploads if is_file(v)]
                if len(files) != 1:
                    raise InputError("send exactly one file (a form field named as the evidence)")
                field, upload = files[0]
                if asked is None and field != "file":
                    asked = field
                step, name = await run_in_threadpool(_preuve_step, portal, run_id, step_id, asked)
                assert isinstance(upload, UploadFile)
                saved = await save_upload(upload, scratch, portal.upload_limit, what=name)
            finally:
                await form.close()
        else:
            step, name = await run_in_threadpool(_preuve_step, portal, run_id, step_id, asked)
            original = safe_name(request.query_params.get("filename"), default=name)
            saved = await _raw_upload(request, scratch, portal.upload_limit, original)
        target = _pending(portal, run_id) / safe_name(step) / safe_name(name)
        shutil.rmtree(target, ignore_errors=True)  # a new upload replaces the one before
        target.mkdir(parents=True)
        final = target / saved.name
        saved.replace(final)
    except DrimlabError as exc:
        if saved is not None:
            saved.unlink(missing_ok=True)
        raise HTTPException(400, first_line(exc)) from None
    answer = await run_in_threadpool(_run, portal, run_id)
    return JSONResponse(
        {
            "step": step,
            "name": name,
            "file": final.name,
            "size": final.stat().st_size,
            "run": answer,
        },
        status_code=201,
        headers={"Location": answer["links"]["self"]},
    )


def _resume(
    portal: Portal, run_id: str, max_steps: int, skip: bool, step: str | None = None
) -> None:
    """Settle up to `max_steps` waiting steps, one at a time as the portal does, as the run's
    one driver (a second resume of the run waits for this one, then goes on from there).

    An INSTRUCTION step is confirmed done (skipped with `skip`); a PREUVE step takes the files
    uploaded for it, and stops the resume while one is missing (skipped with `skip`); a
    VALIDATION step runs its action. With `step`, only if that step is the one waiting.
    """
    with run_lock(portal, run_id):
        waiting = load_run(portal.store, run_id).next_waiting()
        if step is not None and (waiting is None or waiting.step_id != step):
            raise InputError(f"step {step} was settled meanwhile (by another page or request)")
        _resume_locked(portal, run_id, max_steps, skip)


def _resume_locked(portal: Portal, run_id: str, max_steps: int, skip: bool) -> None:
    for _ in range(max_steps):
        run = load_run(portal.store, run_id)
        waiting = run.next_waiting()
        if run.status is not RunStatus.RUNNING or waiting is None:
            break
        scenario = _scenario(portal, run.scenario_id)
        step = scenario.steps[waiting.position]
        answers: list[str] = []
        if step.kind is StepKind.INSTRUCTION:
            answers = ["s" if skip else ""]
        elif step.kind is StepKind.PREUVE:
            for name in step.evidence:
                files = _waiting_files(portal, run_id, step.id, name)
                if not files and not skip:
                    return  # waits for its evidence
                answers.append(str(files[0]) if files else "s")
        drive_run(
            portal.store,
            portal.settings,
            scenario,
            run_id,
            WebPrompter(answers),
            interactive=True,
            max_steps=1,
        )
        if step.kind is StepKind.PREUVE:
            shutil.rmtree(_pending(portal, run_id) / safe_name(step.id), ignore_errors=True)
    run = load_run(portal.store, run_id)
    if run.status is RunStatus.RUNNING and run.next_waiting() is None:
        drive_run(
            portal.store,
            portal.settings,
            _scenario(portal, run.scenario_id),
            run_id,
            WebPrompter(),
            interactive=True,
            max_steps=1,
        )


async def resume(request: Request) -> Response:
    """POST /api/runs/{id}/resume: advance the run by at most `maxSteps` steps."""
    run_id = await _visible_run(request, changes=True)
    portal = portal_of(request)
    body = await _json_object(request)
    count = len((await run_in_threadpool(load_run, portal.store, run_id)).steps)
    max_steps = body.get("maxSteps", count)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise HTTPException(400, "'maxSteps' must be a positive whole number")
    skip = body.get("skip", False)
    if not isinstance(skip, bool):
        raise HTTPException(400, "'skip' must be true or false")
    steps = min(max_steps, count)
    try:
        owner = await run_in_threadpool(owner_of_run, portal.store, run_id)
        await run_in_threadpool(check_quota_of, portal, owner)
    except QuotaExceeded as exc:
        return over_quota(exc)
    try:
        run = await run_in_threadpool(load_run, portal.store, run_id)
        if run.status is not RunStatus.RUNNING:
            raise HTTPException(409, f"run {run.id} is finished ({run.status.value})")
        if portal.queue is not None:  # a shared environment: a task worker drives it
            inputs = {"run_id": run_id, "max_steps": steps, "skip": skip, "label": run_id[:8]}
            job_id = await portal.enqueue(RESUME_RUN, "resume", owner, inputs, subject=run_id)
            job = await run_in_threadpool(job_document, portal, job_id)
            return JSONResponse(job, status_code=202, headers={"Location": job["links"]["self"]})
        await run_in_threadpool(_resume, portal, run_id, steps, skip)
    except DrimlabError as exc:
        raise HTTPException(400, first_line(exc)) from None
    finally:
        owner = await run_in_threadpool(owner_of_run, portal.store, run_id)
        await run_in_threadpool(claim_run, portal, run_id, owner)
    return JSONResponse(await run_in_threadpool(_run, portal, run_id))


def resume_queued(portal: Portal, job_id: str) -> None:
    """Resume the run a job names, and settle the job (a task worker's side)."""

    def resume(row: JobRow) -> JobResult:
        run_id = str(row.inputs["run_id"])
        try:
            check_quota_of(portal, row.organisation_id)  # reached while the job waited?
            step = row.inputs.get("step")
            _resume(
                portal,
                run_id,
                int(row.inputs["max_steps"]),
                bool(row.inputs["skip"]),
                str(step) if step else None,
            )
        finally:
            claim_run(portal, run_id, owner_of_run(portal.store, run_id))
        return JobResult(outcome={"run": run_id})

    run_job(portal.store, job_id, resume)


async def get_bundle(request: Request) -> Response:
    """GET /api/runs/{id}/bundle: the signed zip; with the task queue, 202 and its job until
    a worker has made it (the job's `links.bundle` is this URL again)."""
    run_id = await _visible_run(request)
    portal = portal_of(request)
    try:
        made = await bundle_or_job(portal, run_id, viewer(request).organisation_id)
    except InputError as exc:
        raise HTTPException(409, first_line(exc)) from None
    if isinstance(made, Path):
        return FileResponse(made, media_type="application/zip", filename=made.name)
    if made.state == "failed":
        raise HTTPException(409, made.error)
    job = await run_in_threadpool(job_document, portal, made.id)
    return JSONResponse(job, status_code=202, headers={"Location": job["links"]["self"]})


routes = [
    Route("/api/runs", create, methods=["POST"]),
    Route("/api/runs/{run_id}", get_run),
    Route("/api/runs/{run_id}/evidence/{step}", upload_evidence, methods=["POST"]),
    Route("/api/runs/{run_id}/resume", resume, methods=["POST"]),
    Route("/api/runs/{run_id}/bundle", get_bundle),
]
