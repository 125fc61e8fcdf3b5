"""The test token issuer and verifier (stand-in for Pro Santé Connect)."""

from __future__ import annotations

import json
import os
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.tokens import TokenIssuer, TokenVerifier, parse_authorization


@pytest.fixture
def issuer(settings: Settings) -> TokenIssuer:
    return TokenIssuer.open(settings)


def test_issued_token_verifies_against_the_jwks(issuer: TokenIssuer) -> None:
    check = TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url).check(issuer.issue("12345"))
    assert check.ok, check.reason
    assert check.claims["sub"] == "12345"
    assert check.introspection()["active"] is True


def test_key_is_private_and_stable(settings: Settings, issuer: TokenIssuer) -> None:
    path = settings.home / "tokens" / "issuer-key.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert TokenIssuer.open(settings).public_jwk() == issuer.public_jwk()


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda i: i.issue(lifetime=-3600), "expired"),
        (lambda i: i.issue(not_before_offset=3600), "not-yet-valid"),
        (lambda i: "abc.def", "malformed"),
        (lambda i: "", "missing"),
        (lambda i: i.issue()[:-6] + "AAAAAA", "bad-signature"),
        (
            lambda i: TokenIssuer(
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
            ).issue(),
            "unknown-key",
        ),
        (
            lambda i: TokenIssuer(i.private_key, issuer_url="https://other.example").issue(),
            "wrong-issuer",
        ),
    ],
)
def test_bad_tokens_are_refused_with_their_reason(issuer: TokenIssuer, make, code: str) -> None:
    check = TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url).check(make(issuer))
    assert not check.ok
    assert check.code == code
    assert check.introspection() == {"active": False}


def test_unsigned_alg_none_token_is_refused(issuer: TokenIssuer) -> None:
    forged = jwt.encode(
        {"sub": "x", "exp": int(time.time()) + 60, "iss": issuer.issuer_url},
        key=None,
        algorithm="none",
        headers={"kid": issuer.public_jwk()["kid"]},
    )
    assert not TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url).check(forged).ok


def test_parse_authorization() -> None:
    assert parse_authorization("Bearer abc") == "abc"
    assert parse_authorization("bearer  abc ") == "abc"
    assert parse_authorization("Basic abc") is None
    assert parse_authorization("Bearer") is None
    assert parse_authorization(None) is None


def test_empty_jwks_is_an_input_error() -> None:
    with pytest.raises(InputError):
        TokenVerifier({"keys": []})


def test_cli_issue_then_verify(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    TokenIssuer.open(settings)  # the home's issuer (a home without one is refused: tests/cli)
    assert run(["token", "issue", "--subject", "42"]) == 0
    token = capsys.readouterr().out.strip()
    assert run(["token", "verify", token]) == 0
    assert capsys.readouterr().out.startswith("valid")
    assert run(["token", "issue", "--expired"]) == 0
    expired = capsys.readouterr().out.strip()
    assert run(["token", "verify", expired]) == 1
    assert "expired" in capsys.readouterr().out


def test_cli_verify_with_a_vendor_jwks(settings: Settings, tmp_path, capsys) -> None:
    vendor = TokenIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(vendor.jwks()))
    assert run(["token", "verify", vendor.issue(), "--jwks", str(path)]) == 0
    assert run(["token", "verify", vendor.issue(), "--jwks", str(tmp_path / "none.json")]) == 2
    assert "cannot read JWKS" in capsys.readouterr().err
