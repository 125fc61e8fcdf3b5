"""Report pages and downloads: every verdict the portal shows is a stored Report, rendered
by the library's renderers (`validation.render.render`) for downloads.
"""

from __future__ import annotations

from functools import cache

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from drimlab.errors import InputError
from drimlab.portal import i18n
from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.templating import page
from drimlab.portal.viewer import require_visible
from drimlab.store.ownership import owner_of_report
from drimlab.store.queries import ReportRow, report_row
from drimlab.store.records import load_report
from drimlab.validation.render import FORMATS, render
from drimlab.validation.report import Report
from drimlab.validation.rules import Catalogue, load_all

MEDIA = {
    "text": ("text/plain; charset=utf-8", "txt"),
    "json": ("application/json", "json"),
    "html": ("text/html; charset=utf-8", "html"),
    "junit": ("application/xml", "xml"),
    "gazelle-json": ("application/json", "json"),
    "gazelle-xml": ("application/xml", "xml"),
}


@cache
def rule_catalogue() -> Catalogue:
    return load_all()


def stored_report(portal: Portal, report_id: str) -> tuple[ReportRow, Report]:
    """A stored report's row and Report; 404 when the store has none with that id."""
    row = report_row(portal.store, report_id)
    if row is None:
        raise HTTPException(404, _("No such report"))
    try:
        return row, load_report(portal.store, report_id)
    except InputError:
        raise HTTPException(404, _("No such report")) from None


async def report_page(request: Request) -> Response:
    portal = portal_of(request)
    report_id = request.path_params["report_id"]
    require_visible(request, await run_in_threadpool(owner_of_report, portal.store, report_id))
    row, report = await run_in_threadpool(stored_report, portal, report_id)
    if row.exchange_id is not None and request.query_params.get("alone") != "1":
        return RedirectResponse(f"/exchanges/{row.exchange_id}?report={row.id}", status_code=303)
    return page(
        request,
        "report.html.j2",
        row=row,
        report=report,
        report_id=row.id,
        catalogue=rule_catalogue(),
    )


async def report_download(request: Request) -> Response:
    portal = portal_of(request)
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        raise HTTPException(404, _("Unknown report format"))
    report_id = request.path_params["report_id"]
    require_visible(request, await run_in_threadpool(owner_of_report, portal.store, report_id))
    row, report = await run_in_threadpool(stored_report, portal, report_id)
    language = i18n.current()
    text = await run_in_threadpool(
        lambda: render(report, fmt, catalogue=rule_catalogue(), language=language)
    )
    media, extension = MEDIA[fmt]
    headers = {"Content-Disposition": f'attachment; filename="report-{row.id[:8]}.{extension}"'}
    return Response(text, media_type=media, headers=headers)


routes = [
    Route("/reports/{report_id}", report_page),
    Route("/reports/{report_id}/download/{fmt}", report_download),
]
