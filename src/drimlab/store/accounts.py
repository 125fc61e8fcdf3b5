"""Organisations, users, login sessions, API tokens and the failed-login throttle, as rows.

Every function is its own transaction, so several portal workers share one database and see
each other's sessions and throttles at once. Secrets pass through `store.credentials`: only
their digests reach the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from drimlab.errors import InputError
from drimlab.store.credentials import (
    hash_password,
    new_token,
    spend_verification,
    token_digest,
    verify_password,
)
from drimlab.store.db import Store
from drimlab.store.models import (
    ApiToken,
    LoginSession,
    LoginThrottle,
    Organisation,
    UserAccount,
    utcnow,
)

ROLES = ("vendor", "monitor", "admin")
SESSION_LIFETIME = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5  # per login in a window
MAX_ADDRESS_FAILURES = 30  # per client address (a vendor's office may share one) in a window
_LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class Throttled(InputError):
    """Too many failed logins for this login or address: try again later."""


@dataclass(frozen=True)
class OrganisationRow:
    id: int
    name: str
    identities: tuple[str, ...]


@dataclass(frozen=True)
class Account:
    """Who is logged in: enough to decide what they may see and do."""

    id: int
    login: str
    role: str
    organisation_id: int | None
    organisation: str | None
    active: bool = True

    @property
    def sees_everything(self) -> bool:
        """Monitors and admins see every organisation's work."""
        return self.role in {"monitor", "admin"}


def _organisation_row(row: Organisation) -> OrganisationRow:
    return OrganisationRow(row.id, row.name, tuple(str(i) for i in row.identities or ()))


def _account(session: Session, row: UserAccount) -> Account:
    organisation = session.get(Organisation, row.organisation_id) if row.organisation_id else None
    return Account(
        id=row.id,
        login=row.login,
        role=row.role,
        organisation_id=row.organisation_id,
        organisation=organisation.name if organisation else None,
        active=row.active,
    )


def _clean_identities(identities: tuple[str, ...]) -> list[str]:
    cleaned = []
    for identity in identities:
        value = identity.strip()
        if not value:
            continue
        if len(value) > 512 or any(ord(c) < 32 for c in value):
            raise InputError(f"not a certificate identity (DN or domain): {value[:60]!r}")
        cleaned.append(value if "=" in value else value.lower().lstrip("."))
    return cleaned


def create_organisation(
    store: Store, name: str, identities: tuple[str, ...] = ()
) -> OrganisationRow:
    """A new organisation; InputError when the name is empty, too long or taken."""
    name = name.strip()
    if not name or len(name) > 128 or any(ord(c) < 32 for c in name):
        raise InputError("an organisation name has 1 to 128 printable characters")
    with store.session() as session:
        if session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None:
            raise InputError(f"organisation {name!r} exists already")
        row = Organisation(name=name, identities=_clean_identities(identities))
        session.add(row)
        session.flush()
        return _organisation_row(row)


def set_identities(store: Store, name: str, identities: tuple[str, ...]) -> OrganisationRow:
    """Replace the certificate identities of an organisation."""
    with store.session() as session:
        row = session.scalar(select(Organisation).where(Organisation.name == name))
        if row is None:
            raise InputError(f"no organisation {name!r}")
        row.identities = _clean_identities(identities)
        return _organisation_row(row)


def organisations(store: Store) -> list[OrganisationRow]:
    with store.session() as session:
        rows = session.scalars(select(Organisation).order_by(Organisation.name)).all()
        return [_organisation_row(r) for r in rows]


def find_organisation(store: Store, organisation_id: int) -> OrganisationRow | None:
    with store.session() as session:
        row = session.get(Organisation, organisation_id)
        return _organisation_row(row) if row else None


def create_user(
    store: Store, login: str, password: str, role: str, organisation: str | None = None
) -> Account:
    """A new account. A vendor member belongs to an organisation; a monitor or admin may."""
    if not _LOGIN.match(login):
        raise InputError(
            f"not a login: {login[:70]!r} (1 to 64 letters, digits, '.', '_', '@', '-')"
        )
    if role not in ROLES:
        raise InputError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if role == "vendor" and not organisation:
        raise InputError("a vendor member belongs to an organisation")
    hashed = hash_password(password)
    with store.session() as session:
        if session.scalar(select(UserAccount.id).where(UserAccount.login == login)) is not None:
            raise InputError(f"user {login!r} exists already")
        organisation_id = None
        if organisation:
            found = session.scalar(select(Organisation).where(Organisation.name == organisation))
            if found is None:
                raise InputError(f"no organisation {organisation!r}")
            organisation_id = found.id
        row = UserAccount(
            login=login, role=role, organisation_id=organisation_id, password_hash=hashed
        )
        session.add(row)
        session.flush()
        return _account(session, row)


def users(store: Store) -> list[Account]:
    with store.session() as session:
        rows = session.scalars(select(UserAccount).order_by(UserAccount.login)).all()
        return [_account(session, r) for r in rows]


def set_password(store: Store, login: str, password: str) -> None:
    """Change a password; the user's open sessions are closed."""
    hashed = hash_password(password)
    with store.session() as session:
        row = session.scalar(select(UserAccount).where(UserAccount.login == login))
        if row is None:
            raise InputError(f"no user {login!r}")
        row.password_hash = hashed
        session.execute(delete(LoginSession).where(LoginSession.user_id == row.id))


def set_active(store: Store, login: str, active: bool) -> None:
    """Enable or disable an account; a disabled one loses its sessions (its tokens stop)."""
    with store.session() as session:
        row = session.scalar(select(UserAccount).where(UserAccount.login == login))
        if row is None:
            raise InputError(f"no user {login!r}")
        row.active = active
        if not active:
            session.execute(delete(LoginSession).where(LoginSession.user_id == row.id))


def bind_certificate(store: Store, login: str, sha256: str | None) -> None:
    """Let a user log in with the client certificate of this SHA-256 (None: with none).

    One certificate opens one account: binding it to a second user is refused.
    """
    digest = sha256.lower() if sha256 is not None else None
    if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise InputError(f"{sha256!r} is not the SHA-256 of a certificate (64 hex digits)")
    with store.session() as session:
        row = session.scalar(select(UserAccount).where(UserAccount.login == login))
        if row is None:
            raise InputError(f"no user {login!r}")
        if digest is not None:
            other = session.scalar(
                select(UserAccount.login).where(
                    UserAccount.certificate_sha256 == digest, UserAccount.id != row.id
                )
            )
            if other is not None:
                raise InputError(f"this certificate already opens the account {other!r}")
        row.certificate_sha256 = digest


def certificate_account(store: Store, sha256: str) -> Account | None:
    """The active account a client certificate (its SHA-256) is bound to, if any."""
    with store.session() as session:
        row = session.scalar(
            select(UserAccount).where(UserAccount.certificate_sha256 == sha256.lower())
        )
        if row is None or not row.active:
            return None
        return _account(session, row)


def _throttled(session: Session, key: str, now: datetime) -> bool:
    row = session.get(LoginThrottle, key)
    limit = MAX_ADDRESS_FAILURES if key.startswith("address:") else MAX_FAILURES
    return row is not None and row.window_start > now - THROTTLE_WINDOW and row.failures >= limit


def _count_failure(session: Session, key: str, now: datetime) -> None:
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        session.add(LoginThrottle(key=key[:200], failures=1, window_start=now))
    elif row.window_start <= now - THROTTLE_WINDOW:
        row.failures, row.window_start = 1, now
    else:
        row.failures += 1


def authenticate(store: Store, login: str, password: str, address: str) -> Account | None:
    """The account whose login and password these are, None when they are wrong.

    Throttled (before the password is even checked) after MAX_FAILURES failures in
    THROTTLE_WINDOW for the same login, or MAX_ADDRESS_FAILURES from the same address.
    """
    now = utcnow()
    keys = (f"login:{login[:64].lower()}", f"address:{address[:64]}")
    with store.session() as session:
        if any(_throttled(session, key, now) for key in keys):
            raise Throttled("too many failed logins: wait 15 minutes and try again")
        row = session.scalar(select(UserAccount).where(UserAccount.login == login[:64]))
        if row is None:
            spend_verification(password)
        elif row.active and verify_password(row.password_hash, password):
            for key in keys[:1]:
                session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
            return _account(session, row)
    with store.session() as session:  # counted in its own transaction, whatever follows
        for key in keys:
            _count_failure(session, key, now)
    return None


def open_session(store: Store, account: Account) -> str:
    """A new login session for the account; returns the cookie's token (kept nowhere else)."""
    token = new_token()
    now = utcnow()
    with store.session() as session:
        session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
        session.add(
            LoginSession(
                token_sha256=token_digest(token),
                user_id=account.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return token


def session_account(store: Store, token: str) -> Account | None:
    """The active account of a session cookie's token; None if unknown, expired or disabled."""
    if not token or len(token) > 200:
        return None
    with store.session() as session:
        row = session.get(LoginSession, token_digest(token))
        if row is None or row.expires_at < utcnow():
            return None
        user = session.get(UserAccount, row.user_id)
        return _account(session, user) if user is not None and user.active else None


def close_session(store: Store, token: str) -> None:
    with store.session() as session:
        session.execute(
            delete(LoginSession).where(LoginSession.token_sha256 == token_digest(token))
        )


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked: bool


def create_api_token(store: Store, account: Account, name: str) -> tuple[str, TokenRow]:
    """A personal API token of the account: the secret (shown once) and its row."""
    name = name.strip() or "token"
    if len(name) > 128:
        raise InputError("a token name has at most 128 characters")
    token = new_token()
    with store.session() as session:
        row = ApiToken(
            user_id=account.id, name=name, prefix=token[:10], token_sha256=token_digest(token)
        )
        session.add(row)
        session.flush()
        return token, TokenRow(row.id, row.name, row.prefix, row.created_at, row.revoked)


def api_tokens(store: Store, account: Account) -> list[TokenRow]:
    with store.session() as session:
        rows = session.scalars(
            select(ApiToken).where(ApiToken.user_id == account.id).order_by(ApiToken.id)
        ).all()
        return [TokenRow(r.id, r.name, r.prefix, r.created_at, r.revoked) for r in rows]


def revoke_api_token(store: Store, account: Account, token_id: int) -> None:
    with store.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None or row.user_id != account.id:
            raise InputError(f"no token {token_id}")
        row.revoked = True


def token_account(store: Store, token: str) -> Account | None:
    """The active account of an API token; None if unknown, revoked or disabled."""
    if not token or len(token) > 200:
        return None
    with store.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
        if row is None or row.revoked:
            return None
        user = session.get(UserAccount, row.user_id)
        return _account(session, user) if user is not None and user.active else None
