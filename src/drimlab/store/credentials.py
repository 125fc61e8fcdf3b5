"""Secrets of a shared environment, kept only as digests: passwords (argon2id), session and
API tokens (SHA-256 of 256 random bits), and the CSRF token derived from a session's token.

A password is hashed with argon2-cffi's defaults (argon2id, a per-hash salt); a token has
enough entropy that a plain SHA-256 of it is as good as a slow hash and can be looked up by
index. None of these values is ever stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from drimlab.errors import InputError

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "drl_"
_HASHER = PasswordHasher()


def check_password_policy(password: str) -> None:
    """InputError when a new password is too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password must have at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    """The argon2id hash of a password (with its own salt and parameters)."""
    check_password_policy(password)
    return _HASHER.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    """Whether `password` is the one `hashed` was made from (False for a damaged hash)."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DECOY: list[str] = []


def spend_verification(password: str) -> None:
    """As long as a real check, for a login that does not exist (no timing tells it apart)."""
    if not _DECOY:
        _DECOY.append(_HASHER.hash("drimlab decoy password"))
    verify_password(_DECOY[0], password)


def needs_rehash(hashed: str) -> bool:
    """Whether a stored hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(hashed)
    except InvalidHashError:
        return True


def new_token() -> str:
    """A fresh bearer secret (session cookie or API token), URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: bound to it, never stored, unguessable without it."""
    return hmac.new(session_token.encode(), b"drimlab-csrf", hashlib.sha256).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
