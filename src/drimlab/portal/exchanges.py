"""The server simulator's pages: the live list of the requests it receives (filters, new rows
without reload through server-sent events fed by an indexed store query), each exchange's
page, and the fault modes of a simulator running in the same process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from drimlab.datasets import catalog
from drimlab.errors import InputError
from drimlab.portal.auth import read_form
from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.reports import rule_catalogue
from drimlab.portal.templating import fragment, page
from drimlab.portal.viewer import organisation_scope, require_role, require_visible
from drimlab.simulators.faults import FAULT_DOCS, Fault
from drimlab.store.listings import (
    Cursor,
    ExchangeFilter,
    ExchangeItem,
    client_subjects,
    exchanges_after,
    latest_exchange_cursor,
    page_exchanges,
)
from drimlab.store.ownership import owner_of_exchange
from drimlab.store.queries import StoredExchange, report_ids_of, stored_exchange
from drimlab.store.records import load_report
from drimlab.validation.report import Report

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
REPORT_GRACE_SECONDS = 10.0  # a new row waits this long for its report before it is shown
VERDICTS = ("PASSED", "FAILED", "UNDEFINED")


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(_("not a date and time") + f": {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


#: Who captured the exchanges a live list shows: the server simulator or the recording proxy.
CAPTURED_BY = ("server", "proxy")


def filters_of(portal: Portal, params: Any, origin: str | None = None) -> ExchangeFilter:
    """The filter a list's query string describes (an exam by name or Study Instance UID).

    `origin` is the list's capture: given, or the query's `origin` (the server simulator's
    exchanges by default, the recording proxy's with `origin=proxy`)."""
    chosen = origin or (params.get("origin") or "").strip() or "server"
    if chosen not in CAPTURED_BY:
        raise InputError(_("unknown capture") + f": {chosen!r}")
    status = (params.get("status") or "").strip()
    if status and not status.isdigit():
        raise InputError(_("the status must be a number") + f": {status!r}")
    verdict = (params.get("verdict") or "").strip().upper() or None
    if verdict is not None and verdict not in VERDICTS:
        raise InputError(_("unknown verdict") + f": {verdict!r}")
    exam = (params.get("exam") or "").strip()
    study = None
    if exam:
        found = catalog.find_exam(portal.store, exam)
        study = found.study_instance_uid if found is not None else exam
    return ExchangeFilter(
        origin=chosen,
        verdict=verdict,
        status=int(status) if status else None,
        client_subject=(params.get("client") or "").strip() or None,
        study_instance_uid=study,
        since=_time(params.get("since")),
        until=_time(params.get("until")),
    )


def _list_context(portal: Portal, params: Any, scope: int | None) -> dict[str, Any]:
    wanted = replace(filters_of(portal, params), organisation_id=scope)
    before = Cursor.parse(params.get("before"))
    listing = page_exchanges(portal.store, wanted, before=before)
    newest = (
        listing.items[0].cursor
        if listing.items
        else latest_exchange_cursor(portal.store, ExchangeFilter(organisation_id=scope))
    )
    return {
        "items": listing.items,
        "next_cursor": listing.next_cursor.token() if listing.next_cursor else None,
        "live_from": newest.token() if newest else "",
        "paged": before is not None,
        "clients": client_subjects(portal.store, organisation_id=scope),
        "exams": catalog.list_exams(portal.store),
    }


async def server_page(request: Request) -> Response:
    portal = portal_of(request)
    params = request.query_params
    scope = organisation_scope(request)
    error = None
    try:
        context = await run_in_threadpool(_list_context, portal, params, scope)
    except InputError as exc:
        error = str(exc)
        context = await run_in_threadpool(_list_context, portal, {}, scope)
    return page(
        request,
        "server.html.j2",
        status_code=400 if error else 200,
        error=error,
        params=params,
        verdicts=VERDICTS,
        captured_by=CAPTURED_BY,
        simulator=portal.simulator,
        faults=FAULT_DOCS,
        active_faults=portal.simulator.faults(),
        active_names={spec.split(":")[0] for spec in portal.simulator.faults()},
        **context,
    )


def ready_rows(items: list[ExchangeItem], now: float) -> list[ExchangeItem]:
    """The new rows to show: up to the first one still waiting for its report."""
    shown = []
    for item in items:
        young = now - item.created_at.timestamp() < REPORT_GRACE_SECONDS
        if item.verdict is None and young:
            break
        shown.append(item)
    return shown


def _event(item: ExchangeItem) -> str:
    html = fragment("_exchange_row.html.j2", item=item)
    data = "\n".join(f"data: {line}" for line in html.strip().splitlines())
    return f"event: exchange\nid: {item.cursor.token()}\n{data}\n\n"


async def stream(request: Request) -> Response:
    """Server-sent events: every new exchange matching the filters, as a table row."""
    portal = portal_of(request)
    wanted = await run_in_threadpool(filters_of, portal, request.query_params)
    wanted = replace(wanted, organisation_id=organisation_scope(request))
    start = Cursor.parse(request.headers.get("last-event-id")) or Cursor.parse(
        request.query_params.get("after")
    )
    if start is None:
        start = Cursor(datetime.fromtimestamp(0, UTC), "")

    async def events() -> AsyncIterator[str]:
        cursor = start
        quiet_since = time.monotonic()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            items = await run_in_threadpool(exchanges_after, portal.store, cursor, wanted)
            for item in ready_rows(items, time.time()):
                cursor = item.cursor
                quiet_since = time.monotonic()
                yield _event(item)
            if time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
                quiet_since = time.monotonic()
                yield ": still here\n\n"
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def set_faults(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request)
    require_role(request, "admin")  # the faults change what every vendor receives
    chosen = [str(v) for v in form.getlist("fault") if str(v) in {f.value for f in Fault}]
    match = str(form.get("match") or "").strip()
    specs = tuple(f"{name}:{match}" if match else name for name in chosen)
    portal.simulator.set_faults(specs)
    return RedirectResponse("/server#faults", status_code=303)


def _exchange(
    portal: Portal, exchange_id: str, report_id: str | None
) -> tuple[StoredExchange, list[str], str | None, Report | None]:
    stored = stored_exchange(portal.store, exchange_id)
    if stored is None:
        raise HTTPException(404, _("No such exchange"))
    report_ids = report_ids_of(portal.store, exchange_id)
    chosen = report_id if report_id in report_ids else (report_ids[-1] if report_ids else None)
    report = load_report(portal.store, chosen) if chosen else None
    return stored, report_ids, chosen, report


async def exchange_page(request: Request) -> Response:
    portal = portal_of(request)
    exchange_id = request.path_params["exchange_id"]
    require_visible(request, await run_in_threadpool(owner_of_exchange, portal.store, exchange_id))
    stored, report_ids, report_id, report = await run_in_threadpool(
        _exchange, portal, request.path_params["exchange_id"], request.query_params.get("report")
    )
    return page(
        request,
        "exchange.html.j2",
        stored=stored,
        facts=stored.facts,
        tls=stored.facts.get("tls") or {},
        decision=stored.facts.get("decision") or {},
        report_ids=report_ids,
        report_id=report_id,
        report=report,
        catalogue=rule_catalogue(),
    )


routes = [
    Route("/server", server_page),
    Route("/server/stream", stream),
    Route("/server/faults", set_faults, methods=["POST"]),
    Route("/exchanges/{exchange_id}", exchange_page),
]
