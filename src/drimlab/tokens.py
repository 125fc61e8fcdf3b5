"""A test token issuer standing in for Pro Santé Connect (PSC), and the matching verifier.

DRIM-M consumers send `Authorization: Bearer <JWT>` obtained from PSC; a source checks it.
The bench signs RS256 JWTs with its own key (kept under `DRIMLAB_HOME/tokens/`, private file
modes), publishes the public key as a JWKS, and verifies tokens against a JWKS — its own, or
the one a vendor configures for their real issuer.

    issuer = TokenIssuer.open(settings)
    token = issuer.issue(subject="899700000001")
    TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url).check(token).ok   # True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from drimlab.config import Settings
from drimlab.errors import ConfigurationError, InputError

DEFAULT_ISSUER = "https://psc.drimlab.test/auth/realms/esante-wallet"
DEFAULT_AUDIENCE = "drimlab-drimbox"
DEFAULT_LIFETIME = 3600
#: Clock skew tolerated when checking exp / nbf / iat.
LEEWAY_SECONDS = 30


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA JWK (used as its `kid`)."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _create_private(path: Path, data: bytes) -> None:
    """Write a private file whole, once: a concurrent creator that loses keeps the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class TokenIssuer:
    """The bench's PSC stand-in: one RSA key, an issuer URL, RS256 tokens."""

    private_key: rsa.RSAPrivateKey
    issuer_url: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE

    @staticmethod
    def key_path(settings: Settings) -> Path:
        """Where the home keeps the issuer's private key."""
        return settings.home / "tokens" / "issuer-key.pem"

    @classmethod
    def open(cls, settings: Settings, *, issuer_url: str = DEFAULT_ISSUER) -> TokenIssuer:
        """Load the issuer key from the home, creating it on first use."""
        path = cls.key_path(settings)
        if not path.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                _create_private(path, pem)
            except OSError as exc:
                raise ConfigurationError(f"cannot write token issuer key {path}: {exc}") from exc
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"token issuer key {path} is unreadable: {exc}") from exc
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ConfigurationError(f"token issuer key {path} is not an RSA key")
        return cls(private_key=loaded, issuer_url=issuer_url)

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": _int_b64url(numbers.n), "e": _int_b64url(numbers.e)}
        return {**jwk, "kid": jwk_thumbprint(jwk), "use": "sig", "alg": "RS256"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JSON Web Key Set a source uses to check this issuer's tokens."""
        return {"keys": [self.public_jwk()]}

    def issue(
        self,
        subject: str = "899700000001",
        *,
        lifetime: int = DEFAULT_LIFETIME,
        not_before_offset: int = 0,
        audience: str | None = None,
        extra_claims: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """A signed access token shaped like a PSC one (`sub` is an RPPS-like identifier).

        A negative `lifetime` makes an already-expired token; a positive `not_before_offset`
        one that is not yet valid: both are what robustness probes need.
        """
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.issuer_url,
            "sub": subject,
            "aud": audience or self.audience,
            "iat": issued,
            "nbf": issued + not_before_offset,
            "exp": issued + lifetime,
            "jti": secrets.token_hex(16),
            "scope": "openid scope_all",
            "preferred_username": subject,
            "SubjectNameID": subject,
            "given_name": "Camille",
            "family_name": "TEST-DRIMLAB",
        }
        if extra_claims:
            claims.update(extra_claims)
        kid = self.public_jwk()["kid"]
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": kid})


@dataclass(frozen=True)
class TokenCheck:
    """What a verifier concluded about one bearer token."""

    ok: bool
    reason: str
    code: str  # valid | missing | malformed | unknown-key | bad-signature | expired | ...
    claims: dict[str, Any] = field(default_factory=dict)

    def introspection(self) -> dict[str, Any]:
        """RFC 7662 introspection response for this token."""
        if not self.ok:
            return {"active": False}
        keep = ("sub", "iss", "aud", "exp", "iat", "nbf", "scope", "jti")
        return {"active": True, "token_type": "Bearer"} | {
            k: self.claims[k] for k in keep if k in self.claims
        }


def parse_authorization(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when absent or not Bearer."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class TokenVerifier:
    """Checks RS256/ES256 bearer tokens against a JWKS and an expected issuer."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str | None = DEFAULT_ISSUER,
        audience: str | None = None,
        leeway: int = LEEWAY_SECONDS,
    ) -> None:
        keys = jwks.get("keys")
        if not isinstance(keys, list) or not keys:
            raise InputError("the JWKS has no keys")
        self._keys: dict[str | None, Any] = {}
        for entry in keys:
            try:
                jwk = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, TypeError, ValueError) as exc:
                raise InputError(f"the JWKS holds an unusable key: {exc}") from exc
            self._keys[entry.get("kid")] = jwk
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> TokenVerifier:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read JWKS {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InputError(f"JWKS {path} is not a JSON object")
        return cls(data, **kwargs)

    def check(self, token: str | None, *, now: float | None = None) -> TokenCheck:
        if not token:
            return TokenCheck(False, "no bearer token", "missing")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            return TokenCheck(
                False, "malformed token: not a JWT (its header does not decode)", "malformed"
            )
        kid = header.get("kid")
        jwk = self._keys.get(kid) or (
            next(iter(self._keys.values())) if kid is None and len(self._keys) == 1 else None
        )
        if jwk is None:
            return TokenCheck(
                False, f"token signed with an unknown key (kid {kid!r})", "unknown-key"
            )
        options: jwt.types.Options = {
            "require": ["exp"],
            "verify_aud": self.audience is not None,
        }
        try:
            claims = jwt.decode(
                token,
                key=jwk.key,
                algorithms=[jwk.algorithm_name] if jwk.algorithm_name else ["RS256", "ES256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=options,
            )
            if now is not None:
                self._check_times(claims, now)
        except jwt.ExpiredSignatureError:
            return TokenCheck(False, "token expired", "expired")
        except jwt.ImmatureSignatureError:
            return TokenCheck(False, "token not yet valid", "not-yet-valid")
        except jwt.InvalidIssuerError:
            return TokenCheck(False, "token from another issuer", "wrong-issuer")
        except jwt.InvalidAudienceError:
            return TokenCheck(False, "token for another audience", "wrong-audience")
        except jwt.InvalidSignatureError:
            return TokenCheck(False, "token signature does not verify", "bad-signature")
        except jwt.MissingRequiredClaimError as exc:
            return TokenCheck(False, f"token lacks the required {exc.claim!r} claim", "malformed")
        except jwt.InvalidTokenError:
            return TokenCheck(False, "malformed token: not a valid signed JWT", "malformed")
        return TokenCheck(True, "valid", "valid", dict(claims))

    def _check_times(self, claims: Mapping[str, Any], now: float) -> None:
        if float(claims["exp"]) < now - self.leeway:
            raise jwt.ExpiredSignatureError
        if "nbf" in claims and float(claims["nbf"]) > now + self.leeway:
            raise jwt.ImmatureSignatureError
