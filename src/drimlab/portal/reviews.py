"""The monitors' side of a shared environment: the worklist of finished runs to verify, and
the verdict (VERIFIED, PARTIALLY_VERIFIED, FAILED, as in Gazelle) a monitor records on a run
with a comment, which the run's vendor then sees on the run's page.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from drimlab.errors import InputError
from drimlab.portal.auth import read_form
from drimlab.portal.context import portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.templating import page
from drimlab.portal.viewer import require_role
from drimlab.store import reviews


async def worklist(request: Request) -> Response:
    require_role(request, "monitor", "admin")
    portal = portal_of(request)
    pending = request.query_params.get("all") != "1"
    items = await run_in_threadpool(lambda: reviews.worklist(portal.store, pending_only=pending))
    return page(request, "worklist.html.j2", items=items, pending=pending)


async def review(request: Request) -> Response:
    form = await read_form(request, max_files=0, max_fields=4)
    monitor = require_role(request, "monitor", "admin")
    portal = portal_of(request)
    run_id = request.path_params["run_id"]
    try:
        await run_in_threadpool(
            reviews.record_review,
            portal.store,
            run_id,
            monitor.id or None,
            str(form.get("status") or ""),
            str(form.get("comment") or ""),
        )
    except InputError as exc:
        if "no run" in str(exc):
            raise HTTPException(404, _("No such run")) from None
        return RedirectResponse(f"/runs/{run_id}?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


routes = [
    Route("/worklist", worklist),
    Route("/runs/{run_id}/review", review, methods=["POST"]),
]
