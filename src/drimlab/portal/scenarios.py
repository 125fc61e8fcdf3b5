"""Scenarios in the browser: list and detail, a run driven one step per page (INSTRUCTION
texts, PREUVE uploads, VALIDATION steps launched from the page), resume, and the export of
the signed evidence bundle. The steps are settled by the scenario runner itself
(`scenarios.runner.start_run` / `drive_run`), as `drimlab scenario run|resume` does.
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from drimlab.errors import DrimlabError, InputError, QuotaExceeded
from drimlab.portal import i18n
from drimlab.portal.auth import read_form
from drimlab.portal.bundles import bundle_or_job
from drimlab.portal.context import RESUME_RUN, Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.jobs import Job, JobState
from drimlab.portal.templating import page
from drimlab.portal.uploads import is_file, safe_name, save_upload
from drimlab.portal.validators import check_quota_of, selection_of
from drimlab.portal.viewer import organisation_scope, require_visible, viewer
from drimlab.scenarios.loader import get_scenario, load_all
from drimlab.scenarios.runner import Driver, drive_run, fill, start_run
from drimlab.scenarios.runs import RunState, RunStatus, list_runs, load_run
from drimlab.scenarios.schema import Scenario, StepKind
from drimlab.store.background import latest_job
from drimlab.store.ownership import claim, owner_of_run, run_ids_of
from drimlab.store.reviews import STATUSES, reviews_of
from drimlab.store.scenario_runs import find_run_row


class WebPrompter:
    """The runner's prompter for one page: answers given by the form, what it says kept."""

    def __init__(self, answers: list[str] | None = None) -> None:
        self.answers = list(answers or [])
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)

    def ask(self, prompt: str) -> str | None:
        return self.answers.pop(0) if self.answers else None


def _scenario(portal: Portal, scenario_id: str) -> Scenario:
    try:
        return get_scenario(scenario_id, portal.settings)
    except InputError:
        raise HTTPException(404, _("No such scenario")) from None


async def list_page(request: Request) -> Response:
    portal = portal_of(request)
    scenarios = await run_in_threadpool(load_all, portal.settings)
    runs = await run_in_threadpool(list_runs, portal.store)
    scope = organisation_scope(request)
    if scope is not None:
        mine = await run_in_threadpool(run_ids_of, portal.store, scope)
        runs = [run for run in runs if run.id in mine]
    return page(request, "scenarios.html.j2", scenarios=scenarios.values(), runs=runs[:50])


def _defaults(portal: Portal, scenario: Scenario) -> dict[str, str]:
    values = {spec.name: spec.default or "" for spec in scenario.inputs}
    if "base_url" in values and not values["base_url"]:
        values["base_url"] = portal.simulator.base_url
    return values


async def detail_page(request: Request) -> Response:
    portal = portal_of(request)
    scenario = _scenario(portal, request.path_params["scenario_id"])
    return page(
        request,
        "scenario.html.j2",
        scenario=scenario,
        values=_defaults(portal, scenario),
        error=None,
    )


def claim_run(portal: Portal, run_id: str, organisation_id: int | None) -> None:
    """Give a run, and the exchanges and reports of its steps so far, to an organisation."""
    row = find_run_row(portal.store, run_id)
    if row is None or organisation_id is None:
        return
    claim(
        portal.store,
        organisation_id,
        exchange_ids=[i for step in row.steps for i in step.exchange_ids],
        report_ids=[i for step in row.steps for i in step.report_ids],
        run_id=run_id,
    )


async def visible_run(request: Request, run_id: str) -> None:
    """404 unless the run exists and the viewer may see it."""
    portal = portal_of(request)
    require_visible(request, await run_in_threadpool(owner_of_run, portal.store, run_id))


def _start(portal: Portal, scenario: Scenario, values: dict[str, str]) -> RunState:
    given = {
        spec.name: values[spec.name].strip()
        for spec in scenario.inputs
        if values.get(spec.name, "").strip()
    }
    chosen = selection_of({"profile": given.get("profile", "drim-m")})
    return start_run(
        portal.store,
        portal.settings,
        scenario,
        given,
        interactive=True,
        language=i18n.current(),
        prompter=WebPrompter(),
        selection=chosen,
    )


async def start(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request, max_files=0, max_fields=50)
    scenario = _scenario(portal, request.path_params["scenario_id"])
    values = {k: str(v) for k, v in form.items()}
    try:
        await run_in_threadpool(check_quota_of, portal, viewer(request).organisation_id)
        run = await run_in_threadpool(_start, portal, scenario, values)
        await run_in_threadpool(claim_run, portal, run.id, viewer(request).organisation_id)
    except DrimlabError as exc:
        return page(
            request,
            "scenario.html.j2",
            status_code=429 if isinstance(exc, QuotaExceeded) else 400,
            scenario=scenario,
            values=values,
            error=str(exc).splitlines()[0],
        )
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


def _run_view(portal: Portal, run_id: str) -> dict[str, Any]:
    try:
        run = load_run(portal.store, run_id)
    except InputError:
        raise HTTPException(404, _("No such run")) from None
    scenario = _scenario(portal, run.scenario_id)
    values: dict[str, str] = {}
    if run.status is RunStatus.RUNNING:
        driver = Driver(
            portal.store, portal.settings, scenario, run, WebPrompter(), interactive=True
        )
        values = driver.values
    language = i18n.current()
    steps = [
        {
            "step": step,
            "state": state,
            "text": fill(step.text.get(language), values) if values else step.text.get(language),
        }
        for step, state in zip(scenario.steps, run.steps, strict=False)
    ]
    waiting = run.next_waiting()
    busy = latest_job(portal.store, "resume", run.id) if portal.queue is not None else None
    return {
        "busy": busy if busy is not None and busy.state in ("queued", "running") else None,
        "run": run,
        "scenario": scenario,
        "steps": steps,
        "waiting": waiting,
        "reviews": reviews_of(portal.store, run.id),
        "review_statuses": STATUSES,
    }


async def run_page(request: Request) -> Response:
    portal = portal_of(request)
    await visible_run(request, request.path_params["run_id"])
    view = await run_in_threadpool(_run_view, portal, request.path_params["run_id"])
    return page(request, "run.html.j2", error=request.query_params.get("error"), **view)


def run_lock(portal: Portal, run_id: str) -> AbstractContextManager[None]:
    """One driver of a run at a time, across the portal's and the task queue's workers."""
    return portal.store.lock(f"run-{safe_name(run_id)}")


def _settle(portal: Portal, run_id: str, step_id: str, answers: list[str]) -> None:
    """Settle `step_id` with `answers`, unless another request settled it meanwhile."""
    with run_lock(portal, run_id):
        run = load_run(portal.store, run_id)
        waiting = run.next_waiting()
        if run.status is not RunStatus.RUNNING or waiting is None or waiting.step_id != step_id:
            raise InputError(_("this step was settled meanwhile (by another page or request)"))
        _drive_one(portal, run, answers)


def _drive_one(portal: Portal, run: RunState, answers: list[str]) -> None:
    scenario = _scenario(portal, run.scenario_id)
    drive_run(
        portal.store,
        portal.settings,
        scenario,
        run.id,
        WebPrompter(answers),
        interactive=True,
        max_steps=1,
    )


async def settle_step(request: Request) -> Response:
    """Settle the run's next waiting step with what the page gave (done, skip, files)."""
    portal = portal_of(request)
    run_id = request.path_params["run_id"]
    form = await read_form(request, max_files=20, max_fields=20)
    try:
        await visible_run(request, run_id)
    except HTTPException:
        await form.close()
        raise
    folder = portal.uploads_dir / "evidence" / uuid.uuid4().hex
    error = ""
    try:
        run = await run_in_threadpool(load_run, portal.store, run_id)
        if run.status is not RunStatus.RUNNING:
            raise InputError(_("this run is finished"))
        waiting = run.next_waiting()
        if waiting is None:
            raise InputError(_("this run has no waiting step"))
        if form.get("step", waiting.step_id) != waiting.step_id:  # a page shown before
            raise InputError(_("this step was settled meanwhile (by another page or request)"))
        scenario = _scenario(portal, run.scenario_id)
        step = scenario.steps[waiting.position]
        skip = form.get("action") == "skip"
        answers: list[str] = []
        if step.kind is StepKind.INSTRUCTION:
            answers = ["s" if skip else ""]
        elif step.kind is StepKind.PREUVE:
            for name in step.evidence:
                upload = form.get(f"evidence-{name}")
                if skip or not (is_file(upload) and isinstance(upload, UploadFile)):
                    answers.append("s")
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                saved = await save_upload(upload, folder, portal.upload_limit, what=name)
                answers.append(str(saved))
        owner = await run_in_threadpool(owner_of_run, portal.store, run_id)
        await run_in_threadpool(check_quota_of, portal, owner)  # a step stores its evidence
        busy = await run_in_threadpool(latest_job, portal.store, "resume", run_id)
        if busy is not None and busy.state in ("queued", "running"):
            raise InputError(_("a task worker is running a step of this run: wait for it"))
        if portal.queue is not None and step.kind is StepKind.VALIDATION:
            # a shared environment: the step's retrieval is a task worker's job
            inputs = {"run_id": run_id, "max_steps": 1, "skip": False, "step": step.id}
            inputs["label"] = f"{scenario.id} {step.id}"
            await portal.enqueue(RESUME_RUN, "resume", owner, inputs, subject=run_id)
            return RedirectResponse(f"/runs/{run_id}", status_code=303)
        await run_in_threadpool(_settle, portal, run_id, waiting.step_id, answers)
        owner = await run_in_threadpool(owner_of_run, portal.store, run_id)
        await run_in_threadpool(claim_run, portal, run_id, owner)
    except DrimlabError as exc:
        error = str(exc).splitlines()[0]
    finally:
        await form.close()
        shutil.rmtree(folder, ignore_errors=True)
    target = f"/runs/{run_id}"
    if error:
        from urllib.parse import quote  # noqa: PLC0415

        target += f"?error={quote(error)}"
    return RedirectResponse(target, status_code=303)


async def export(request: Request) -> Response:
    """The run's bundle; with the task queue, a page that waits for it until it is made."""
    portal = portal_of(request)
    run_id = request.path_params["run_id"]
    await visible_run(request, run_id)
    try:
        made = await bundle_or_job(portal, run_id, viewer(request).organisation_id)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    wants_state = "application/json" in request.headers.get("accept", "")  # the page's poll
    if isinstance(made, Path):
        if wants_state:
            return JSONResponse({"state": "done", "finished": True, "percent": 100})
        return FileResponse(made, media_type="application/zip", filename=made.name)
    job = Job.from_row(made)
    if job.state is JobState.FAILED:
        raise HTTPException(409, _("The bundle could not be exported") + f": {job.error}")
    if wants_state:
        return JSONResponse(job.as_dict(), status_code=202)
    return page(request, "bundle_job.html.j2", status_code=202, job=job, run_id=run_id)


routes = [
    Route("/scenarios", list_page),
    Route("/scenarios/{scenario_id}", detail_page),
    Route("/scenarios/{scenario_id}/runs", start, methods=["POST"]),
    Route("/runs/{run_id}", run_page),
    Route("/runs/{run_id}/step", settle_step, methods=["POST"]),
    Route("/runs/{run_id}/evidence.zip", export),
]
