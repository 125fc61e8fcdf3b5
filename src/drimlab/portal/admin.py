"""Accounts of a shared environment: the admin's page (organisations, users) and each user's
own page (their personal API tokens).

Only with accounts switched on; the admin page needs the admin role. Every form carries the
session's CSRF token; a wrong value gets a one-line reason on the page and changes nothing.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from drimlab.errors import InputError
from drimlab.portal.auth import read_form
from drimlab.portal.context import portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.i18n import mark
from drimlab.portal.templating import page
from drimlab.portal.viewer import require_role, viewer
from drimlab.store import accounts

ROLE_NAMES = (mark("vendor"), mark("monitor"), mark("admin"))


def _accounts_on(request: Request) -> None:
    if not portal_of(request).accounts:
        raise HTTPException(404, _("accounts are not switched on in this environment"))


async def _admin_page(
    request: Request, status: int = 200, error: str | None = None, done: str | None = None
) -> Response:
    store = portal_of(request).store
    return page(
        request,
        "admin.html.j2",
        status_code=status,
        organisations=await run_in_threadpool(accounts.organisations, store),
        users=await run_in_threadpool(accounts.users, store),
        roles=accounts.ROLES,
        error=error,
        done=done,
    )


async def admin_home(request: Request) -> Response:
    _accounts_on(request)
    require_role(request, "admin")
    return await _admin_page(request)


async def create_organisation(request: Request) -> Response:
    _accounts_on(request)
    require_role(request, "admin")
    form = await read_form(request, max_files=0, max_fields=4)
    name = str(form.get("name") or "")
    identities = tuple(str(form.get("identities") or "").splitlines())
    try:
        await run_in_threadpool(
            accounts.create_organisation, portal_of(request).store, name, identities
        )
    except InputError as exc:
        return await _admin_page(request, 400, error=str(exc))
    return await _admin_page(request, done=_("organisation created") + f": {name.strip()}")


async def create_user(request: Request) -> Response:
    _accounts_on(request)
    require_role(request, "admin")
    form = await read_form(request, max_files=0, max_fields=6)
    login = str(form.get("login") or "")
    try:
        await run_in_threadpool(
            accounts.create_user,
            portal_of(request).store,
            login,
            str(form.get("password") or ""),
            str(form.get("role") or ""),
            str(form.get("organisation") or "") or None,
        )
    except InputError as exc:
        return await _admin_page(request, 400, error=str(exc))
    return await _admin_page(request, done=_("user created") + f": {login}")


async def set_active(request: Request) -> Response:
    _accounts_on(request)
    admin = require_role(request, "admin")
    form = await read_form(request, max_files=0, max_fields=3)
    login = request.path_params["login"]
    active = form.get("active") == "on"
    if login == admin.login and not active:
        return await _admin_page(request, 400, error=_("you cannot disable your own account"))
    try:
        await run_in_threadpool(accounts.set_active, portal_of(request).store, login, active)
    except InputError as exc:
        return await _admin_page(request, 400, error=str(exc))
    return await _admin_page(request, done=_("account changed") + f": {login}")


async def set_password(request: Request) -> Response:
    _accounts_on(request)
    require_role(request, "admin")
    form = await read_form(request, max_files=0, max_fields=3)
    login = request.path_params["login"]
    try:
        await run_in_threadpool(
            accounts.set_password, portal_of(request).store, login, str(form.get("password") or "")
        )
    except InputError as exc:
        return await _admin_page(request, 400, error=str(exc))
    return await _admin_page(request, done=_("password changed") + f": {login}")


async def _account_page(
    request: Request, status: int = 200, new_token: str | None = None, error: str | None = None
) -> Response:
    account = viewer(request)
    tokens = await run_in_threadpool(accounts.api_tokens, portal_of(request).store, account)
    return page(
        request,
        "account.html.j2",
        status_code=status,
        tokens=tokens,
        new_token=new_token,
        error=error,
    )


async def account_home(request: Request) -> Response:
    _accounts_on(request)
    return await _account_page(request)


async def create_token(request: Request) -> Response:
    _accounts_on(request)
    form = await read_form(request, max_files=0, max_fields=2)
    try:
        token, _row = await run_in_threadpool(
            accounts.create_api_token,
            portal_of(request).store,
            viewer(request),
            str(form.get("name") or ""),
        )
    except InputError as exc:
        return await _account_page(request, 400, error=str(exc))
    response = await _account_page(request, 201, new_token=token)
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke_token(request: Request) -> Response:
    _accounts_on(request)
    await read_form(request, max_files=0, max_fields=2)
    try:
        token_id = int(request.path_params["token_id"])
        await run_in_threadpool(
            accounts.revoke_api_token, portal_of(request).store, viewer(request), token_id
        )
    except (ValueError, InputError):
        raise HTTPException(404, _("not found")) from None
    return RedirectResponse("/account", status_code=303)


routes = [
    Route("/admin", admin_home),
    Route("/admin/organisations", create_organisation, methods=["POST"]),
    Route("/admin/users", create_user, methods=["POST"]),
    Route("/admin/users/{login}/active", set_active, methods=["POST"]),
    Route("/admin/users/{login}/password", set_password, methods=["POST"]),
    Route("/account", account_home),
    Route("/account/tokens", create_token, methods=["POST"]),
    Route("/account/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"]),
]
