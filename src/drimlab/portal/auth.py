"""Logging in to a shared environment: the session middleware, login and logout, CSRF.

With accounts switched on (`drimlab portal --accounts`, or `DRIMLAB_ACCOUNTS=1`), every page
but the login page, the language switch, the static files and the API (which takes API
tokens) needs a session. The session cookie holds a random token whose SHA-256 is the only
thing stored; it is `HttpOnly`, `SameSite=Lax` and `Secure` (unless the portal is told it is
served over plain HTTP), and replaced at every login (no session fixation). Every form that
changes something carries a CSRF token bound to the session (`read_form` checks it); the
login form, before any session exists, a token bound to a short-lived cookie.

Behind an HTTPS front that verifies client certificates (nginx, `DRIMLAB_FRONT_SECRET`
shared with it), a user whose certificate an admin bound to their account
(`drimlab admin bind-certificate`) may log in with it instead of a password.
"""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from urllib.parse import quote, unquote

from cryptography import x509
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from drimlab.portal.context import Portal, portal_of
from drimlab.portal.i18n import gettext as _
from drimlab.portal.templating import page
from drimlab.portal.viewer import LAB, csrf_of
from drimlab.store.accounts import (
    SESSION_LIFETIME,
    Account,
    Throttled,
    authenticate,
    certificate_account,
    close_session,
    open_session,
    session_account,
)
from drimlab.store.credentials import csrf_token, same_secret
from drimlab.trust.pki_x509 import fingerprint

SESSION_COOKIE = "drimlab_session"
LOGIN_COOKIE = "drimlab_login"
PUBLIC = ("/login", "/lang/", "/static/", "/api/")


def _cookies(scope: Scope) -> SimpleCookie:
    cookie = SimpleCookie()
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header means no cookie
                return SimpleCookie()
    return cookie


def _is_public(path: str) -> bool:
    if path in ("/login", "/login/certificate"):
        return True
    return any(path.startswith(p) for p in PUBLIC if p.endswith("/"))


class Accounts:
    """Puts the request's account in its state; sends the logged-out to the login page."""

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.portal.accounts:
            state["account"] = LAB
            await self.app(scope, receive, send)
            return
        cookie = _cookies(scope)
        token = cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else ""
        account = await run_in_threadpool(session_account, self.portal.store, token)
        if account is not None:
            state["account"] = account
            state["csrf"] = csrf_token(token)
            state["session"] = token
        elif not _is_public(scope["path"]):
            target = scope["path"] + (
                "?" + scope["query_string"].decode() if scope["query_string"] else ""
            )
            if scope["method"] in {"GET", "HEAD"}:
                response: Response = RedirectResponse(
                    "/login?next=" + quote(target, safe=""), status_code=303
                )
            else:
                response = Response(_("log in first"), status_code=401, media_type="text/plain")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def check_csrf(request: Request, given: object) -> None:
    """403 unless a state-changing request sent back its session's CSRF token."""
    if not portal_of(request).accounts:
        return
    expected = csrf_of(request)
    if not expected or not isinstance(given, str) or not same_secret(given, expected):
        raise HTTPException(
            403, _("the form has expired or did not come from this site: reload it and try again")
        )


async def read_form(request: Request, **limits: int) -> FormData:
    """The request's form, once its CSRF token is checked (the form is closed on refusal)."""
    form = await request.form(**limits)
    try:
        check_csrf(request, form.get("csrf"))
    except HTTPException:
        await form.close()
        raise
    return form


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, status: int, error: str | None, login: str = "") -> Response:
    portal = portal_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    if len(nonce) != 43:
        nonce = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html.j2",
        status_code=status,
        error=error,
        login=login,
        login_csrf=nonce,
        next=_safe_next(request.query_params.get("next")),
        certificate_login=bool(portal.settings.front_secret),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=portal.cookie_secure,
    )
    return response


async def login_form(request: Request) -> Response:
    if not portal_of(request).accounts:
        return RedirectResponse("/", status_code=303)
    return _login_page(request, 200, None)


async def login(request: Request) -> Response:
    portal = portal_of(request)
    if not portal.accounts:
        return RedirectResponse("/", status_code=303)
    form = await request.form(max_files=0, max_fields=5)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    given = form.get("csrf")
    if not nonce or not isinstance(given, str) or not same_secret(given, nonce):
        return _login_page(request, 403, _("the form has expired: try again"))
    login_name = str(form.get("login") or "")[:64]
    password = str(form.get("password") or "")
    address = request.client.host if request.client else "unknown"
    try:
        account = await run_in_threadpool(authenticate, portal.store, login_name, password, address)
    except Throttled:
        return _login_page(
            request, 429, _("too many failed logins: wait 15 minutes and try again"), login_name
        )
    if account is None:
        return _login_page(request, 401, _("wrong login or password"), login_name)
    return await _logged_in(request, account, str(form.get("next") or "/"))


def presented_certificate(request: Request) -> str | None:
    """The SHA-256 of the client certificate the HTTPS front verified for this request.

    Only a front that knows the environment's `DRIMLAB_FRONT_SECRET` is believed: it sends
    the secret in `X-Drimlab-Front`, its verdict in `X-Client-Verify` and the certificate in
    `X-Client-Cert` (nginx's `$ssl_client_escaped_cert`). Without the secret, or from anyone
    else, those headers are ignored.
    """
    secret = portal_of(request).settings.front_secret
    if not secret or not same_secret(request.headers.get("x-drimlab-front", ""), secret):
        return None
    if request.headers.get("x-client-verify") != "SUCCESS":
        return None
    pem = unquote(request.headers.get("x-client-cert", ""))
    try:
        return fingerprint(x509.load_pem_x509_certificate(pem.encode("ascii", "replace")))
    except ValueError:
        return None


async def certificate_login(request: Request) -> Response:
    """POST /login/certificate: log in with the client certificate bound to one's account."""
    portal = portal_of(request)
    if not portal.accounts:
        return RedirectResponse("/", status_code=303)
    form = await request.form(max_files=0, max_fields=3)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    given = form.get("csrf")
    if not nonce or not isinstance(given, str) or not same_secret(given, nonce):
        return _login_page(request, 403, _("the form has expired: try again"))
    digest = presented_certificate(request)
    if digest is None:
        return _login_page(request, 401, _("no verified client certificate came with this request"))
    account = await run_in_threadpool(certificate_account, portal.store, digest)
    if account is None:
        return _login_page(
            request, 401, _("this certificate opens no account: ask an administrator to bind it")
        )
    return await _logged_in(request, account, str(form.get("next") or "/"))


async def _logged_in(request: Request, account: Account, target: str) -> Response:
    """A new session for `account` (the one before it closed), and on to `target`."""
    portal = portal_of(request)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await run_in_threadpool(close_session, portal.store, previous)
    token = await run_in_threadpool(open_session, portal.store, account)
    response = RedirectResponse(_safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=portal.cookie_secure,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


async def logout(request: Request) -> Response:
    portal = portal_of(request)
    await read_form(request, max_files=0, max_fields=2)
    token = request.scope.get("state", {}).get("session")
    if isinstance(token, str) and token:
        await run_in_threadpool(close_session, portal.store, token)
    response = RedirectResponse("/login" if portal.accounts else "/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=portal.cookie_secure
    )
    return response


routes = [
    Route("/login", login_form),
    Route("/login", login, methods=["POST"]),
    Route("/login/certificate", certificate_login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
