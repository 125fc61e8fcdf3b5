"""Write `tests/fixtures/ans-forms/`: each request form of the ANS dry run, with a bad twin.

The ANS homologation dry run (ansforge/DRIM-M_DATA, "test à blanc") labels OK requests that
PS3.18 alone does not allow. For each form, `<form>-good.http` is that form, and
`<form>-bad.http` a twin with a real fault. `expected.json` holds, for each file and profile,
the verdict and the findings (rule and severity) the validator must give: a changed finding
shows up in review. Run `python -m tests.validation.build_ans_forms` after changing a case,
then check the diff of `expected.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import jwt

from drimlab.domain import LOSSLESS_FIRST, LOSSY_FIRST
from drimlab.simulators.retrieval import accept_list
from drimlab.validation.engine import validate_exchange
from drimlab.validation.loaders import load_request
from tests.validation.builder import BASE, HOST, INSTANCES, KOS_UID, SERIES, STUDY, TOKEN

FORMS = Path(__file__).resolve().parents[1] / "fixtures" / "ans-forms"
PROFILES = ("drim-m", "dicomweb")
MP = 'multipart/related; type="application/dicom"'
SERIES_URL = f"{BASE}/studies/{STUDY}/series/{SERIES}"
FRAMES_URL = f"{SERIES_URL}/instances/{INSTANCES[0]}/frames/1"
SECRET = "drimlab-fixture-secret-of-thirty-two-bytes!"
HEALTH_HOST = "source.example:8443"
HEALTH_URL = f"https://{HEALTH_HOST}/dcm4chee-arc/aets/DCM4CHEE/rs"
DATE = "Mon, 01 Dec 2025 10:00:00 GMT"  # 1764583200
Headers = list[tuple[str, str]]


def _jwt(**claims: int) -> str:
    return jwt.encode({"sub": "899700000001", **claims}, SECRET, algorithm="HS256")


def _request(target: str, headers: Headers, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _drim(accept: list[str] | str, *, token: str = TOKEN, date: bool = False) -> Headers:
    """Host, the Accept header(s), the token and the KOS header, in the usual order."""
    headers: Headers = [("Host", HOST)]
    headers += [("Accept", a) for a in ([accept] if isinstance(accept, str) else accept)]
    headers += [("Authorization", f"Bearer {token}"), ("KOS-SOPInstanceUID", KOS_UID)]
    if date:
        headers.append(("Date", DATE))
    return headers


def _ranges(preferences: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{MP};transfer-syntax={uid};q={q}" for uid, q in preferences]


def forms() -> dict[str, tuple[bytes, bytes]]:
    """form -> (good, bad): the form the ANS accepts, and a twin with a real fault."""
    lossless = accept_list(LOSSLESS_FIRST)
    shuffled = [
        ("User-Agent", "Java/11.0.16"),
        ("KOS-SOPInstanceUID", KOS_UID),
        ("Authorization", f"Bearer {TOKEN}"),
        *(("Accept", a) for a in reversed(_ranges(LOSSLESS_FIRST))),
        ("Host", HOST),
    ]
    qs = f"{MP};transfer-syntax=1.2.840.10008.1.2.4.80"
    return {
        # One comma-separated list: the ANS sample's lossless-first list.
        "accept-one-list": (
            _request(SERIES_URL, _drim(lossless)),
            _request(SERIES_URL, _drim(lossless.replace("q=0.9", "q=0.9x", 1))),
        ),
        # One Accept header per media range: the same list, combined by the validator.
        "accept-header-per-range": (
            _request(SERIES_URL, _drim(_ranges(LOSSLESS_FIRST))),
            _request(SERIES_URL, _drim([*_ranges(LOSSLESS_FIRST), f"{MP};transfer-syntax=1.2.3"])),
        ),
        # Headers in another order (ranges reversed, Host last): order does not matter.
        "header-order": (
            _request(SERIES_URL, shuffled),
            _request(SERIES_URL, [h for h in shuffled if h[0] != "KOS-SOPInstanceUID"]),
        ),
        # The lossy-first list (baseline JPEG first, a tie at 1.0).
        "accept-lossy-first": (
            _request(SERIES_URL, _drim(accept_list(LOSSY_FIRST))),
            _request(
                SERIES_URL,
                _drim(accept_list((("1.2.840.10008.1.2", "1.0"), *LOSSY_FIRST))),
            ),
        ),
        # A range written as bare parameters, without its media type.
        "accept-bare-parameters": (
            _request(
                SERIES_URL,
                _drim("transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9;boundary=myboundary"),
            ),
            _request(SERIES_URL, _drim("transfer-syntax=1.2.840.10008.1.2.4.50;q=2")),
        ),
        # q=0, 0.0, 1, 1.0 and ties.
        "accept-q-values": (
            _request(
                SERIES_URL,
                _drim(
                    f"{qs};q=0, {MP};transfer-syntax=1.2.840.10008.1.2.4.90;q=0.0, "
                    f"{MP};transfer-syntax=1.2.840.10008.1.2.4.70;q=1, "
                    f"{MP};transfer-syntax=1.2.840.10008.1.2.4.91;q=1.0, "
                    f"{MP};transfer-syntax=1.2.840.10008.1.2.4.50;q=0.5, "
                    f"{MP};transfer-syntax=1.2.840.10008.1.2.1;q=0.5"
                ),
            ),
            _request(SERIES_URL, _drim(f"{qs};q=1.0000")),
        ),
        # A boundary parameter inside Accept.
        "accept-boundary": (
            _request(SERIES_URL, _drim(f"{MP}; boundary=myboundary")),
            _request(SERIES_URL, _drim(f'{MP}; boundary="myboundary')),
        ),
        # A study-level retrieve.
        "study-level": (
            _request(f"{BASE}/studies/{STUDY}", _drim(lossless)),
            _request(f"{BASE}/studies/{STUDY}.01", _drim(lossless)),
        ),
        # A frames request asking multipart/related; type="application/dicom".
        "frames-as-dicom": (
            _request(FRAMES_URL, _drim(MP)),
            _request(FRAMES_URL, _drim("application/dicom+json")),
        ),
        # A placeholder bearer token, not a JWT.
        "placeholder-token": (
            _request(SERIES_URL, _drim(lossless, token="OK_Study_token")),
            _request(SERIES_URL, _drim(lossless, token="OK Study token")),
        ),
        # A JWT expired now, but not when the request was sent (its Date header).
        "jwt-expired-at-capture": (
            _request(SERIES_URL, _drim(lossless, token=_jwt(exp=1764590000), date=True)),
            _request(SERIES_URL, _drim(lossless, token=_jwt(exp=1764500000), date=True)),
        ),
        # The health check of the ANS client simulator: GET {base}, accept: application/json.
        "health-check": (
            _request(HEALTH_URL, [("Host", HEALTH_HOST), ("accept", "application/json")]),
            _request(HEALTH_URL, [("Host", HEALTH_HOST), ("accept", "application/json")], "DELETE"),
        ),
        # A JWT whose exp precedes its iat.
        "jwt-exp-before-iat": (
            _request(SERIES_URL, _drim(lossless, token=_jwt(iat=1764500000, exp=4102444800))),
            _request(SERIES_URL, _drim(lossless, token=_jwt(iat=4102444800, exp=4102400000))),
        ),
    }


def outcome(path: Path, profile: str) -> dict[str, object]:
    """What the validator says of one fixture under one profile: verdict and findings."""
    report = validate_exchange(load_request(path), profile)
    findings = sorted({f"{f.rule} {f.severity.value}" for f in report.findings})
    return {"verdict": report.verdict.value, "findings": findings}


def files() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for form, (good, bad) in forms().items():
        out[f"{form}-good.http"] = good
        out[f"{form}-bad.http"] = bad
    return out


def main() -> None:
    FORMS.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (FORMS / name).write_bytes(data)
    expected = {
        name: {profile: outcome(FORMS / name, profile) for profile in PROFILES}
        for name in sorted(files())
    }
    (FORMS / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    print(f"wrote {len(files())} fixtures and expected.json to {FORMS}")


if __name__ == "__main__":
    main()
