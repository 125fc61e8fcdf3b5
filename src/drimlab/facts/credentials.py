"""What a request's credentials looked like, kept instead of the credentials themselves.

A bearer token is a practitioner's credential (a Pro Santé Connect access token): the bench
never stores, prints, logs or bundles it. `Exchange` replaces the value of every credential
header by `redact(value)` (`Bearer [redacted sha256:<hex> length:<n>]`) as soon as it is
built, and keeps `CredentialFacts`: the scheme, the token's SHA-256 and length, whether its
syntax is RFC 6750 b64token, whether it is a structurally valid JWT and, if so, the JOSE
header fields and the few claims the rules judge (times, issuer, audience). Nothing that
names the practitioner (`sub`, names, RPPS/ADELI identifiers) is kept. The DRIM rules judge
these facts, so a stored or bundled exchange is judged exactly as the live one was.

    facts = credential_facts("Bearer eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjB9.c2ln")
    facts.claims   # {"exp": 0}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
KEPT_HEADER = ("alg", "kid", "typ")
KEPT_CLAIMS = ("exp", "nbf", "iat", "iss", "aud")
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
REDACTED = re.compile(r"^(?:\S+ )?\[redacted sha256:[0-9a-f]{64} length:\d+\]$")
MAX_SCHEME = 20
MAX_KEPT = 200


def _b64url_json(text: str) -> Any:
    if not BASE64URL.match(text):
        raise ValueError("not base64url")
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def _jwt(token: str) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """(JOSE header, payload, None) of a structurally valid JWT, else ({}, {}, why not)."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return {}, {}, f"{len(pieces)} dot-separated part(s), a JWT (JWS) has 3"
    try:
        header = _b64url_json(pieces[0])
        payload = _b64url_json(pieces[1])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return {}, {}, "header or payload is not base64url-encoded JSON"
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return {}, {}, "JOSE header has no alg"
    if not isinstance(payload, dict):
        return {}, {}, "payload is not a JSON object"
    if not pieces[2] or not BASE64URL.match(pieces[2]):
        return {}, {}, "signature part is empty or not base64url"
    return header, payload, None


def _kept(source: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named members that are plain JSON scalars or short lists of strings."""
    out: dict[str, Any] = {}
    for name in names:
        value = source.get(name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            out[name] = value
        elif isinstance(value, str):
            out[name] = value[:MAX_KEPT]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[name] = [v[:MAX_KEPT] for v in value[:10]]
    return out


@dataclass(frozen=True)
class CredentialFacts:
    """The first credential header of a request, as facts: never the credential."""

    scheme: str
    sha256: str
    length: int
    b64token: bool
    jwt_problem: str | None = None
    header: Mapping[str, Any] = field(default_factory=dict)
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_bearer(self) -> bool:
        return self.scheme.lower() == "bearer" and self.length > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "sha256": self.sha256,
            "length": self.length,
            "b64token": self.b64token,
            "jwt_problem": self.jwt_problem,
            "header": dict(self.header),
            "claims": dict(self.claims),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CredentialFacts:
        return cls(
            scheme=str(data.get("scheme", "")),
            sha256=str(data.get("sha256", "")),
            length=int(data.get("length", 0)),
            b64token=bool(data.get("b64token", False)),
            jwt_problem=data.get("jwt_problem"),
            header=dict(data.get("header") or {}),
            claims=dict(data.get("claims") or {}),
        )


def _split(value: str) -> tuple[str, str]:
    scheme, _, credentials = value.strip().partition(" ")
    return scheme, credentials.strip()


def credential_facts(value: str) -> CredentialFacts:
    """The facts of one `Authorization` value (`Bearer <token>`, `Basic …`, anything)."""
    scheme, token = _split(value)
    header: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    problem: str | None = None
    if scheme.lower() == "bearer" and token:
        jose, payload, problem = _jwt(token)
        header, claims = _kept(jose, KEPT_HEADER), _kept(payload, KEPT_CLAIMS)
    return CredentialFacts(
        scheme=scheme[:MAX_SCHEME],
        sha256=hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest(),
        length=len(token),
        b64token=bool(B64TOKEN.fullmatch(token)),
        jwt_problem=problem,
        header=header,
        claims=claims,
    )


def is_redacted(value: str) -> bool:
    return bool(REDACTED.match(value.strip()))


def redact(value: str) -> str:
    """The value with its credentials replaced by their SHA-256 and length (idempotent)."""
    if is_redacted(value):
        return value
    scheme, token = _split(value)
    if not token:  # a lone word is the credential itself (no scheme)
        scheme, token = "", scheme
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    shown = f"{scheme[:MAX_SCHEME]} " if scheme else ""
    return f"{shown}[redacted sha256:{digest} length:{len(token)}]"


def is_credential_header(name: str) -> bool:
    return name.strip().lower() in CREDENTIAL_HEADERS


def redact_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The headers with the value of every credential header redacted."""
    return tuple((k, redact(v) if is_credential_header(k) else v) for k, v in headers)
