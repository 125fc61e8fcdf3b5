"""Who is looking at a page: the account the request was made with, and what it may see.

`drimlab portal` without accounts (one team on one machine) answers every request as `LAB`,
which sees and may do everything. With accounts, `portal.auth.Accounts` puts the logged-in
`Account` in the request's state; a vendor member then sees only their organisation's rows
and an id of another organisation's row is answered 404, as an unknown one.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from drimlab.portal.i18n import gettext as _
from drimlab.store.accounts import Account
from drimlab.store.ownership import MISSING

LAB = Account(id=0, login="", role="admin", organisation_id=None, organisation=None)


def account_of(request: Request) -> Account | None:
    """The request's account (LAB without accounts; None on a public page when logged out)."""
    found = request.scope.get("state", {}).get("account")
    return found if isinstance(found, Account) else None


def csrf_of(request: Request) -> str:
    """The CSRF token the request's forms must send back ('' without accounts)."""
    found = request.scope.get("state", {}).get("csrf")
    return found if isinstance(found, str) else ""


def viewer(request: Request) -> Account:
    """The account of a page that needs one (the middleware has sent everyone else away)."""
    found = account_of(request)
    if found is None:
        raise HTTPException(401, _("log in to see this page"))
    return found


def organisation_scope(request: Request) -> int | None:
    """The organisation a list is restricted to; None when the viewer sees everything."""
    account = viewer(request)
    if account.sees_everything:
        return None
    return account.organisation_id if account.organisation_id is not None else MISSING


def require_visible(request: Request, owner: int | None) -> None:
    """404 unless the row exists and the viewer may see it (owner from `store.ownership`)."""
    account = viewer(request)
    if owner == MISSING:
        raise HTTPException(404, _("not found"))
    if not account.sees_everything and (owner is None or owner != account.organisation_id):
        raise HTTPException(404, _("not found"))


def require_role(request: Request, *roles: str) -> Account:
    """403 unless the viewer has one of the roles."""
    account = viewer(request)
    if account.role not in roles:
        raise HTTPException(403, _("your role may not do this"))
    return account
