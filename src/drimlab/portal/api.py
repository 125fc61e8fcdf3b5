"""The REST API, modelled on Gazelle EVS: submit a file or a raw message to a validator and
get the report by a permanent link; read exchanges. Scenario runs are in `api_runs`.

Described by `openapi.yaml` beside this module (served at `/api/openapi.yaml`; a test checks
every route against it both ways). A validation takes the same path as `drimlab validate`
and the portal's validators (`validators.run_validation`: the validation entry points,
assess(), the store) and its report is rendered by `validation.render.render`.

Authentication: `Authorization: Bearer TOKEN` with a personal API token; a browser's session
cookie also works, with the session's CSRF token in `X-CSRF-Token` for a POST. Without
accounts (the lab), no authentication. Errors are JSON `{"error": "one line"}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from drimlab.errors import DrimlabError, InputError, QuotaExceeded, first_line
from drimlab.portal.context import VALIDATE_UPLOAD, Portal, portal_of
from drimlab.portal.reports import MEDIA, rule_catalogue, stored_report
from drimlab.portal.uploads import is_file, safe_name, save_upload
from drimlab.portal.validators import KINDS, Done, check_quota_of, run_validation, selection_of
from drimlab.portal.viewer import LAB, account_of, csrf_of, organisation_scope, require_visible
from drimlab.store.accounts import Account, token_account
from drimlab.store.background import find_job
from drimlab.store.credentials import same_secret
from drimlab.store.listings import Cursor, page_reports
from drimlab.store.ownership import MISSING, owner_of_exchange, owner_of_report
from drimlab.store.queries import report_ids_of, report_row, stored_exchange
from drimlab.validation.render import FORMATS, render

SPEC = Path(__file__).parent / "openapi.yaml"
ACCEPTED = {  # Accept media type -> report format
    "application/json": "json",
    "application/xml": "gazelle-xml",
    "text/xml": "gazelle-xml",
    "text/html": "html",
    "application/junit+xml": "junit",
    "text/plain": "text",
}
MAX_OBJECTS = 2000


async def authenticated(request: Request, *, changes: bool = False) -> Account:
    """The account the request acts for; 401 without a valid token or session."""
    portal = portal_of(request)
    header = request.headers.get("authorization", "")
    account: Account | None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorised("send the token as 'Authorization: Bearer TOKEN'")
        account = await run_in_threadpool(token_account, portal.store, token.strip())
        if account is None:
            raise _unauthorised("unknown, revoked or disabled API token")
    elif not portal.accounts:
        account = LAB
    else:
        account = account_of(request)
        if account is None:
            raise _unauthorised("send a personal API token: 'Authorization: Bearer TOKEN'")
        given = request.headers.get("x-csrf-token", "")
        if changes and not same_secret(given, csrf_of(request)):
            raise HTTPException(403, "with a session cookie, send its CSRF token in X-CSRF-Token")
    request.scope.setdefault("state", {})["account"] = account
    return account


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="drimlab"'})


def _links(report_id: str) -> dict[str, Any]:
    own = f"/api/validations/{report_id}"
    return {
        "self": own,
        "report": {fmt: f"{own}/report?format={fmt}" for fmt in FORMATS},
        "page": f"/reports/{report_id}?alone=1",
    }


def _validation(portal: Portal, report_id: str) -> dict[str, Any]:
    row, report = stored_report(portal, report_id)
    return {
        "id": row.id,
        "createdAt": row.created_at.isoformat(),
        "status": "DONE",
        "validator": row.kind,
        "profile": row.profile,
        "verdict": row.verdict,
        "subject": row.subject,
        "exchangeId": row.exchange_id,
        "counters": dict(report.counters),
        "links": _links(row.id),
    }


def _object_files(body: Any, folder: Path) -> tuple[dict[str, str], dict[str, list[Path]]]:
    """The values and files of a JSON submission (`objects`: base64 contents)."""
    if not isinstance(body, dict):
        raise InputError("the JSON body must be an object")
    objects = body.get("objects")
    if not isinstance(objects, list) or not objects or len(objects) > MAX_OBJECTS:
        raise InputError(f"'objects' must list 1 to {MAX_OBJECTS} files")
    values = {k: str(v) for k, v in body.items() if k != "objects" and isinstance(v, str | int)}
    files: dict[str, list[Path]] = {}
    for position, item in enumerate(objects):
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise InputError(f"objects[{position}] needs a base64 'content'")
        field = str(item.get("name") or "file")
        try:
            content = base64.b64decode(item["content"], validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"objects[{position}].content is not base64") from None
        if not content:
            raise InputError(f"objects[{position}] is empty")
        target = folder / f"{position}-{safe_name(str(item.get('originalFileName') or field))}"
        target.write_bytes(content)
        files.setdefault(field, []).append(target)
    return values, files


async def _form_files(
    request: Request, portal: Portal, folder: Path
) -> tuple[dict[str, str], dict[str, list[Path]]]:
    form = await request.form(max_files=MAX_OBJECTS, max_fields=50)
    try:
        values = {k: str(v) for k, v in form.items() if not isinstance(v, UploadFile)}
        files: dict[str, list[Path]] = {}
        for field in {k for k, v in form.multi_items() if isinstance(v, UploadFile)}:
            for upload in form.getlist(field):
                if is_file(upload) and isinstance(upload, UploadFile):
                    target = folder / field
                    target.mkdir(exist_ok=True)
                    saved = await save_upload(upload, target, portal.upload_limit, what=field)
                    files.setdefault(field, []).append(saved)
        return values, files
    finally:
        await form.close()


async def _raw_file(request: Request, folder: Path) -> tuple[dict[str, str], dict[str, list[Path]]]:
    values = {k: v for k, v in request.query_params.items()}
    target = folder / safe_name(values.get("name"), default="message")
    written = 0
    with target.open("wb") as handle:
        async for chunk in request.stream():  # bounded by the portal's BodyLimit
            written += len(chunk)
            handle.write(chunk)
    if written == 0:
        raise InputError("the request body is empty: send the message to validate")
    return values, {"file": [target]}


def over_quota(exc: QuotaExceeded) -> JSONResponse:
    """429: the organisation may store nothing more (a problem with a one-line detail)."""
    detail = first_line(exc, "storage quota reached")
    return JSONResponse(
        {"error": detail, "status": 429, "title": "storage quota reached", "detail": detail},
        status_code=429,
    )


async def submit(request: Request) -> Response:
    """POST /api/validations: validate a file or a raw message; 201 with the report's link
    (429 when the caller's organisation has reached its storage quota: nothing is stored)."""
    account = await authenticated(request, changes=True)
    portal = portal_of(request)
    try:
        await run_in_threadpool(check_quota_of, portal, account.organisation_id)
    except QuotaExceeded as exc:
        return over_quota(exc)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    folder = portal.uploads_dir / "validations" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    done: Done | None = None
    deferred: str | None = None
    try:
        if media in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            values, files = await _form_files(request, portal, folder)
        elif media == "application/json":
            try:
                body = json.loads(await request.body())
            except (ValueError, UnicodeDecodeError):
                raise InputError("the body is not JSON") from None
            values, files = _object_files(body, folder)
        else:
            values, files = await _raw_file(request, folder)
        kind = values.get("validator", "")
        if kind not in KINDS:
            raise InputError(f"unknown validator {kind!r} (one of {', '.join(KINDS)})")
        for field, _label, required, _multiple in KINDS[kind][1]:
            if required and not files.get(field):
                raise InputError(f"the {kind} validator needs a file named {field!r}")
        chosen = selection_of(values)
        if portal.queue is not None and _size(files) > portal.background_above:
            deferred = await _defer(
                portal, account, kind=kind, folder=folder, files=files, values=values
            )
        else:
            done = await run_in_threadpool(
                run_validation,
                portal,
                kind,
                files,
                chosen,
                values.get("bench") in {"1", "true", "on"},
                organisation_id=account.organisation_id,
            )
    except QuotaExceeded as exc:  # reached while this request was read
        return over_quota(exc)
    except DrimlabError as exc:
        message = first_line(exc)
        raise HTTPException(400, message.replace(str(folder) + "/", "")) from None
    finally:
        if done is None and deferred is None:
            shutil.rmtree(folder, ignore_errors=True)
    if deferred is not None:  # a worker of the task queue validates it
        job = await run_in_threadpool(job_document, portal, deferred)
        return JSONResponse(job, status_code=202, headers={"Location": job["links"]["self"]})
    assert done is not None
    validations = [await run_in_threadpool(_validation, portal, r) for r in done.report_ids]
    first = validations[0]
    answer = {**first, "validations": validations} if len(validations) > 1 else first
    return JSONResponse(answer, status_code=201, headers={"Location": first["links"]["self"]})


def _size(files: dict[str, list[Path]]) -> int:
    return sum(path.stat().st_size for paths in files.values() for path in paths)


async def _defer(
    portal: Portal,
    account: Account,
    *,
    kind: str,
    folder: Path,
    files: dict[str, list[Path]],
    values: dict[str, str],
) -> str:
    """Hand a validation to the task queue: its row, then the job (inputs stay on disk)."""
    inputs = {
        "validator": kind,
        "folder": str(folder.relative_to(portal.settings.home)),
        "files": {f: [str(p.relative_to(folder)) for p in paths] for f, paths in files.items()},
        "values": {k: v for k, v in values.items() if k != "csrf"},
    }
    return await portal.enqueue(VALIDATE_UPLOAD, "validation", account.organisation_id, inputs)


JOB_LINKS = {  # kind -> (the link's name, where what a job of that kind made is read)
    "bundle": ("bundle", "/api/runs/{subject}/bundle"),
    "resume": ("run", "/api/runs/{subject}"),
}


def job_document(portal: Portal, job_id: str) -> dict[str, Any]:
    """A job of the task queue as the API shows it."""
    job = find_job(portal.store, job_id)
    if job is None:
        raise HTTPException(404, "not found")
    links = {"self": f"/api/jobs/{job.id}"}
    if job.kind in JOB_LINKS and job.subject:
        name, template = JOB_LINKS[job.kind]
        links[name] = template.format(subject=job.subject)
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "error": job.error or None,
        "attempts": job.attempts,
        "createdAt": job.created_at.isoformat(),
        "finishedAt": job.finished_at.isoformat() if job.finished_at else None,
        "validations": [{"id": r, "links": _links(r)} for r in job.report_ids],
        "links": links,
    }


async def get_job(request: Request) -> Response:
    await authenticated(request)
    portal = portal_of(request)
    found = await run_in_threadpool(find_job, portal.store, request.path_params["job_id"])
    require_visible(request, found.organisation_id if found is not None else MISSING)
    job_id = request.path_params["job_id"]
    return JSONResponse(await run_in_threadpool(job_document, portal, job_id))


async def list_validations(request: Request) -> Response:
    await authenticated(request)
    portal = portal_of(request)
    scope = organisation_scope(request)
    before = Cursor.parse(request.query_params.get("before"))
    listing = await run_in_threadpool(
        lambda: page_reports(portal.store, uploads_only=True, before=before, organisation_id=scope)
    )
    items = [
        {
            "id": item.id,
            "createdAt": item.created_at.isoformat(),
            "validator": item.kind,
            "profile": item.profile,
            "verdict": item.verdict,
            "subject": item.subject,
            "links": {"self": f"/api/validations/{item.id}"},
        }
        for item in listing.items
    ]
    following = listing.next_cursor.token() if listing.next_cursor else None
    return JSONResponse({"items": items, "next": following})


async def _visible_report(request: Request) -> str:
    await authenticated(request)
    report_id = request.path_params["validation_id"]
    owner = await run_in_threadpool(owner_of_report, portal_of(request).store, report_id)
    require_visible(request, owner)
    return str(report_id)


async def get_validation(request: Request) -> Response:
    report_id = await _visible_report(request)
    return JSONResponse(await run_in_threadpool(_validation, portal_of(request), report_id))


def report_format(request: Request) -> str:
    """The format asked by `?format=`, else by the Accept header (JSON by default)."""
    asked = request.query_params.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise HTTPException(400, f"unknown format {asked!r} (one of {', '.join(FORMATS)})")
        return asked
    for part in request.headers.get("accept", "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in ACCEPTED:
            return ACCEPTED[media]
    return "json"


async def get_report(request: Request) -> Response:
    report_id = await _visible_report(request)
    fmt = report_format(request)
    portal = portal_of(request)
    _row, report = await run_in_threadpool(stored_report, portal, report_id)
    text = await run_in_threadpool(lambda: render(report, fmt, catalogue=rule_catalogue()))
    return Response(text, media_type=MEDIA[fmt][0])


async def get_exchange(request: Request) -> Response:
    await authenticated(request)
    portal = portal_of(request)
    exchange_id = request.path_params["exchange_id"]
    require_visible(request, await run_in_threadpool(owner_of_exchange, portal.store, exchange_id))
    stored = await run_in_threadpool(stored_exchange, portal.store, exchange_id)
    if stored is None:
        raise HTTPException(404, "not found")
    reports = await run_in_threadpool(report_ids_of, portal.store, exchange_id)
    rows = [await run_in_threadpool(report_row, portal.store, r) for r in reports]
    return JSONResponse(
        {
            "id": stored.id,
            "createdAt": stored.created_at.isoformat(),
            "origin": stored.origin,
            "method": stored.method,
            "target": stored.target,
            "status": stored.status,
            "clientSubject": stored.peer.get("subject"),
            "reports": [
                {"id": r.id, "verdict": r.verdict, "links": _links(r.id)} for r in rows if r
            ],
        }
    )


async def spec(request: Request) -> Response:
    return Response(SPEC.read_text(encoding="utf-8"), media_type="application/yaml")


routes = [
    Route("/api/openapi.yaml", spec),
    Route("/api/validations", submit, methods=["POST"]),
    Route("/api/validations", list_validations),
    Route("/api/validations/{validation_id}", get_validation),
    Route("/api/validations/{validation_id}/report", get_report),
    Route("/api/exchanges/{exchange_id}", get_exchange),
    Route("/api/jobs/{job_id}", get_job),
]
