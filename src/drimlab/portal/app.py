"""The portal's ASGI application: routes of every page group, language, limits, errors.

`create_app(portal)` is the factory; `drimlab portal` and `drimlab start` serve it with
uvicorn. Pages call the same library functions as the CLI (validators, simulators, scenarios,
store queries); no page decides a verdict.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http.cookies import SimpleCookie
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drimlab.errors import DrimlabError, first_line
from drimlab.portal import (
    admin,
    api,
    api_runs,
    auth,
    client,
    datasets,
    exchanges,
    home,
    i18n,
    monitor,
    reports,
    reviews,
    rules,
    scenarios,
    validators,
)
from drimlab.portal.context import Portal
from drimlab.portal.templating import page
from drimlab.portal.uploads import BodyLimit, TooLarge

STATIC = Path(__file__).parent / "static"
# Every answer's: no script but the portal's own file, no plugin, no framing, no sniffing.
SECURITY_HEADERS = (
    (b"content-security-policy", b"script-src 'self'; object-src 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP answer (a page, an error, a download, a 413)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Language:
    """Sets the request's language from its cookie or `Accept-Language`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:  # a malformed cookie header means no cookie
                cookie = SimpleCookie()
            chosen = cookie[i18n.COOKIE].value if i18n.COOKIE in cookie else None
            i18n.set_language(i18n.chosen(chosen, headers.get("accept-language")))
        await self.app(scope, receive, send)


def switch_language(request: Request) -> Response:
    """Remember the language chosen with the switch and go back to the page."""
    language = request.path_params["language"]
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = RedirectResponse(target, status_code=303)
    if language in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _api_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    detail = exc.detail if isinstance(exc, HTTPException) else ""
    if _is_api(request):
        headers = exc.headers if isinstance(exc, HTTPException) else None
        return _api_error(status, detail or "not found", headers)
    return page(request, "error.html.j2", status_code=status, reason=detail)


async def _input_error(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return _api_error(400, first_line(exc, "bad input"))
    return page(request, "error.html.j2", status_code=400, reason=str(exc))


async def _too_large(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return _api_error(413, str(exc))
    return PlainTextResponse(str(exc), status_code=413)


def _lifespan(portal: Portal) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if portal.queue is not None:
            async with portal.queue.open_async():
                yield
        else:
            yield
        portal.jobs.close()

    return lifespan


def create_app(portal: Portal) -> Starlette:
    """The portal application over one `Portal` (store, environment, simulator, jobs)."""
    routes = [
        *home.routes,
        *datasets.routes,
        *exchanges.routes,
        *reports.routes,
        *validators.routes,
        *client.routes,
        *scenarios.routes,
        *monitor.routes,
        *rules.routes,
        *auth.routes,
        *admin.routes,
        *reviews.routes,
        *api.routes,
        *api_runs.routes,
        Route("/lang/{language}", switch_language),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(Language),
            Middleware(auth.Accounts, portal=portal),
            Middleware(BodyLimit, limit=portal.upload_limit),
        ],
        exception_handlers={
            HTTPException: _not_found,
            DrimlabError: _input_error,
            TooLarge: _too_large,
        },
        lifespan=_lifespan(portal),
    )
    app.state.portal = portal
    return app
