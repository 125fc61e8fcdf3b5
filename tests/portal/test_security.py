"""Security of a shared environment, in-process: session fixation, every id-bearing URL tried
across organisations, the login throttle per address, path traversal in upload names.

CSRF on every state-changing form and the per-login throttle are in test_accounts.py; XSS in
a real browser is in test_security_browser.py, the 2 GiB uploads in test_security_uploads.py.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from drimlab.store import accounts
from drimlab.store.background import create_job

from .conftest import PASSWORD, SharedPortal, csrf_of
from .test_isolation import _a_consumer_exchange, _start_run, _validate_a_kos

SESSION = "drimlab_session"
LOGIN = "drimlab_login"


# -- session fixation -----------------------------------------------------------------------


def _log_in(client: TestClient, login: str = "alice") -> Any:
    form = client.get("/login").text.split('id="login-form"', 1)[1]  # not the logout form's
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found is not None
    return client.post(
        "/login",
        data={"login": login, "password": PASSWORD, "csrf": found.group(1)},
        follow_redirects=False,
    )


def _with_session(shared: SharedPortal, token: str) -> TestClient:
    client = shared.client()
    client.cookies.set(SESSION, token, domain="testserver.local")  # as httpx files it
    return client


def _logged_in(client: TestClient) -> bool:
    return client.get("/server", follow_redirects=False).status_code == 200


def test_no_cookie_set_before_login_becomes_the_session(shared: SharedPortal) -> None:
    planted = "drl_planted-by-an-attacker-0123456789abcdefghijkl"
    client = _with_session(shared, planted)
    assert not _logged_in(client)  # a planted value authenticates nobody
    pre_login = client.get("/login").cookies.get(LOGIN)  # the portal's own pre-login cookie
    assert pre_login
    answer = _log_in(client)
    assert answer.status_code == 303
    session = answer.cookies.get(SESSION)
    assert session and session not in {planted, pre_login}
    assert _logged_in(client)
    for stale in (planted, pre_login):
        assert not _logged_in(_with_session(shared, stale)), stale
    assert accounts.session_account(shared.store, planted) is None

    # an attacker's own valid session planted in a victim's browser ends at the victim's login
    attacker = shared.login("bob")
    attackers_session = str(attacker.cookies.get(SESSION))
    victim = _with_session(shared, attackers_session)
    assert "bob" in victim.get("/server").text
    again = _log_in(victim)
    assert again.status_code == 303
    assert again.cookies.get(SESSION) != attackers_session
    assert not _logged_in(_with_session(shared, attackers_session))
    now = accounts.session_account(shared.store, str(victim.cookies.get(SESSION)))
    assert now is not None and now.login == "alice"

    # after logout the old cookie no longer works, even replayed from elsewhere
    old = str(client.cookies.get(SESSION))
    client.post("/logout", data={"csrf": csrf_of(client.get("/"))}, follow_redirects=False)
    assert not _logged_in(client)
    assert not _logged_in(_with_session(shared, old))


# -- brute force ------------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_address_across_account_names(
    shared: SharedPortal,
) -> None:
    client = shared.client()
    for number in range(accounts.MAX_ADDRESS_FAILURES):
        form = client.get("/login")
        wrong = client.post(
            "/login",
            data={"login": f"guess-{number}", "password": "not it", "csrf": csrf_of(form)},
        )
        assert wrong.status_code == 401, number
    # the right password of an untouched account, from the same address: throttled too
    assert _log_in(client).status_code == 429
    assert _log_in(shared.client(), "bob").status_code == 429
    # from another address the same account still logs in
    elsewhere = TestClient(shared.app, base_url="https://testserver", client=("10.0.0.2", 5000))
    assert _log_in(elsewhere).status_code == 303


# -- every id-bearing URL across organisations ----------------------------------------------------

# route -> the kind of Vendor A's object its path parameters name (filled by `_a_objects`)
OWNED: dict[str, str] = {
    "/exchanges/{exchange_id}": "exchange",
    "/reports/{report_id}": "report",
    "/reports/{report_id}/download/{fmt}": "report",
    "/client/jobs/{job_id}": "client job",
    "/runs/{run_id}": "run",
    "/runs/{run_id}/step": "run",
    "/runs/{run_id}/evidence.zip": "run",
    "/runs/{run_id}/review": "run",
    "/monitor/{summary_id}": "monitor summary",
    "/admin/users/{login}/active": "user",
    "/admin/users/{login}/password": "user",
    "/account/tokens/{token_id:int}/revoke": "token",
    "/api/validations/{validation_id}": "report",
    "/api/validations/{validation_id}/report": "report",
    "/api/exchanges/{exchange_id}": "exchange",
    "/api/jobs/{job_id}": "background job",
    "/jobs/{job_id}": "background job",
    "/api/runs/{run_id}": "run",
    "/api/runs/{run_id}/evidence/{step}": "run",
    "/api/runs/{run_id}/resume": "run",
    "/api/runs/{run_id}/bundle": "run",
}
# route -> why every organisation may use it with any value of its parameters
SHARED: dict[str, str] = {
    "/downloads/{name}": "the environment's certificates (private keys: monitors only, by role)",
    "/datasets/{name}": "the synthetic exams are every vendor's",
    "/datasets/{name}/kos.dcm": "the synthetic exams are every vendor's",
    "/datasets/{name}/xdm.zip": "the synthetic exams are every vendor's",
    "/datasets/{name}/pnr.xml": "the synthetic exams are every vendor's",
    "/series/{series}/thumbnail": "the synthetic exams are every vendor's",
    "/scenarios/{scenario_id}": "scenario definitions are the bench's",
    "/scenarios/{scenario_id}/runs": "starting a run of a shared scenario makes the caller's run",
    "/rules/{code}": "the rule catalogue is the bench's",
    "/lang/{language}": "the language switch sets a cookie of the caller's browser",
    "/static/{path}": "the portal's own style sheet and script",
}
POST_FIELDS: dict[str, dict[str, str]] = {  # a plausible form, so only ownership can refuse it
    "/runs/{run_id}/step": {"action": "done"},
    "/runs/{run_id}/review": {"status": "VERIFIED", "comment": "stolen"},
    "/admin/users/{login}/active": {"active": "off"},
    "/admin/users/{login}/password": {"password": "another long password"},
}


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, frozenset[str]]]:
    """Every (path, methods) of the app, through its Mounts; a mounted app as GET."""
    for route in routes:
        if isinstance(route, Mount):
            inner = route.routes
            if inner:
                yield from _routes(list(inner), prefix + route.path)
            else:
                yield prefix + route.path + "/{path}", frozenset({"GET"})
        elif isinstance(route, Route):
            yield prefix + route.path, frozenset(route.methods or {"GET"})


def _id_bearing(shared: SharedPortal) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path, methods in _routes(list(shared.app.routes)):
        if "{" in path:
            found.setdefault(path, set()).update(methods - {"HEAD"})
    return found


def test_every_id_bearing_route_is_classified(shared: SharedPortal) -> None:
    routes = set(_id_bearing(shared))
    assert not OWNED.keys() & SHARED.keys()
    unclassified = routes - OWNED.keys() - SHARED.keys()
    assert not unclassified, (
        f"say whose object these name (OWNED) or why not (SHARED): {unclassified}"
    )
    assert OWNED.keys() | SHARED.keys() == routes, "routes gone: " + str(
        (OWNED.keys() | SHARED.keys()) - routes
    )


@dataclass
class VendorAWork:
    """One object of each kind Vendor A owns, as the values of the route parameters."""

    params: dict[str, dict[str, str]]
    alice_token: str
    token_id: int


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _a_objects(shared: SharedPortal, alice: TestClient) -> VendorAWork:
    users = {a.login: a for a in accounts.users(shared.store)}
    organisation = users["alice"].organisation_id
    exchange_id, _report = _a_consumer_exchange(shared)
    report_id = _validate_a_kos(shared, alice)
    run_id = _start_run(alice)
    token, row = accounts.create_api_token(shared.store, users["alice"], "CI")
    job = shared.portal.jobs.submit("retrieve", "a job of Vendor A", lambda job: None, organisation)
    background = create_job(shared.store, "validation", organisation, {"validator": "kos"})
    bundle = alice.get(f"/api/runs/{run_id}/bundle", headers=_bearer(token))
    assert bundle.status_code == 200, bundle.text
    monitor = alice.post(
        "/monitor",
        data={"csrf": csrf_of(alice.get("/monitor"))},
        files={"bundle": ("bundle.zip", bundle.content, "application/zip")},
    )
    summary = re.search(r'href="/monitor/([0-9a-f]{32})"', monitor.text)
    assert summary is not None, monitor.text[:2000]
    return VendorAWork(
        params={
            "exchange": {"exchange_id": exchange_id},
            "report": {"report_id": report_id, "validation_id": report_id, "fmt": "json"},
            "client job": {"job_id": job.id},
            "background job": {"job_id": background},
            "run": {"run_id": run_id, "step": "source-log"},
            "monitor summary": {"summary_id": summary.group(1)},
            "user": {"login": "alice"},
            "token": {"token_id:int": str(row.id)},
        },
        alice_token=token,
        token_id=row.id,
    )


def _concrete(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)


def test_another_vendor_gets_404_on_every_id_bearing_route(shared: SharedPortal) -> None:
    alice, bob = shared.login("alice"), shared.login("bob")
    work = _a_objects(shared, alice)
    users = {a.login: a for a in accounts.users(shared.store)}
    bob_token, _ = accounts.create_api_token(shared.store, users["bob"], "CI")
    monica, monica_token = (
        shared.login("monica"),
        accounts.create_api_token(shared.store, users["monica"], "CI")[0],
    )
    bob_csrf = csrf_of(bob.get("/"))
    routes = _id_bearing(shared)
    refused: dict[str, int] = {}
    for path, kind in OWNED.items():
        url = _concrete(path, work.params[kind])
        api = path.startswith("/api/")
        if "GET" in routes[path]:
            owner = alice.get(url, headers=_bearer(work.alice_token) if api else None)
            assert owner.status_code < 400, (url, owner.status_code)
            seen = monica.get(url, headers=_bearer(monica_token) if api else None)
            assert seen.status_code == owner.status_code, (url, seen.status_code)  # a monitor
            answer = bob.get(url, headers=_bearer(bob_token) if api else None)
            assert answer.status_code in {403, 404}, (url, answer.status_code)
            refused[f"GET {path}"] = answer.status_code
        if "POST" in routes[path]:
            if api:
                answer = bob.post(url, content=b"a log\n", headers=_bearer(bob_token))
            else:
                data = {"csrf": bob_csrf, **POST_FIELDS.get(path, {})}
                answer = bob.post(url, data=data, follow_redirects=False)
            assert answer.status_code in {403, 404}, (url, answer.status_code, answer.text[:300])
            refused[f"POST {path}"] = answer.status_code
    assert len(refused) >= len(OWNED)
    # nothing Bob tried changed Vendor A's work
    assert accounts.token_account(shared.store, work.alice_token) is not None
    assert _log_in(shared.client()).status_code == 303  # alice is active, her password unchanged
    run = alice.get(f"/api/runs/{work.params['run']['run_id']}", headers=_bearer(work.alice_token))
    assert all(s["status"] != "done" for s in run.json()["steps"]), run.json()["steps"]
    assert bob.get("/server").status_code == 200  # Bob's session is still valid: not a CSRF refusal


# -- path traversal in upload names ---------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd",
    "/abs/path",
    "..\\..\\win",
    "a/../../b",
    "....//....//evil",
    "nul\x00byte.txt",
    "ctrl\x1b[31m\x07\t.txt",
    "x" * 1000,
    "",
    ".",
    "..",
]
RAW_REQUEST = b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
BOUNDARY = "drimlab-test-boundary-7d1e"


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> bytes:
    """A multipart body with the file names exactly as given (a client library would clean them)."""
    body = b""
    for name, value in fields.items():
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value.encode() + b"\r\n"
    for field, filename, content in files:
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '.encode()
        body += b'filename="' + filename.encode("utf-8") + b'"\r\n'
        body += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def _hostile_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("../../zip-evil.dcm", "/abs-zip-evil.dcm", "a/../../b-zip-evil.dcm"):
            archive.writestr(name, b"not DICOM")
        link = zipfile.ZipInfo("link-evil.dcm")
        link.external_attr = (0o120777 << 16) | 0x10  # a symlink member
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


SAFE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def test_hostile_upload_names_write_nothing_outside_the_upload_folder(
    shared: SharedPortal, tmp_path: Path
) -> None:
    home = shared.settings.home
    uploads = shared.portal.uploads_dir
    root = shared.login("root")
    root_account = next(a for a in accounts.users(shared.store) if a.login == "root")
    token, _ = accounts.create_api_token(shared.store, root_account, "CI")
    run_id = _start_run(root)
    before = _files(tmp_path)
    answers: list[tuple[str, Any]] = []

    def sent(what: str, answer: Any) -> None:
        answers.append((what, answer))

    csrf = csrf_of(root.get("/validate"))
    for name in HOSTILE_NAMES:
        sent(
            f"import {name!r}",
            root.post(
                "/datasets/import",
                content=_multipart({"csrf": csrf}, [("files", name, b"not DICOM")]),
                headers=MULTIPART,
            ),
        )
        form = {"csrf": csrf, "kind": "request", "profile": "drim-m"}
        sent(
            f"validator {name!r}",
            root.post(
                "/validate",
                content=_multipart(form, [("file", name, RAW_REQUEST)]),
                headers=MULTIPART,
                follow_redirects=False,
            ),
        )
        api = {**_bearer(token), **MULTIPART}
        sent(
            f"API multipart {name!r}",
            root.post(
                "/api/validations",
                content=_multipart({"validator": "request"}, [("file", name, RAW_REQUEST)]),
                headers=api,
            ),
        )
        sent(
            f"API ?name= {name!r}",
            root.post(
                "/api/validations",
                params={"validator": "request", "name": name},
                content=RAW_REQUEST,
                headers=_bearer(token),
            ),
        )
        objects = [
            {
                "name": "file",
                "originalFileName": name,
                "content": base64.b64encode(RAW_REQUEST).decode(),
            }
        ]
        sent(
            f"API JSON {name!r}",
            root.post(
                "/api/validations",
                json={"validator": "request", "objects": objects},
                headers=_bearer(token),
            ),
        )
        evidence = f"/api/runs/{run_id}/evidence/source-log"
        sent(
            f"PREUVE ?filename= {name!r}",
            root.post(
                evidence, params={"filename": name}, content=b"a log\n", headers=_bearer(token)
            ),
        )
        sent(
            f"PREUVE multipart {name!r}",
            root.post(
                evidence,
                content=_multipart({}, [("source-log", name, b"a log\n")]),
                headers={**_bearer(token), **MULTIPART},
            ),
        )
    sent(
        "import zip",
        root.post(
            "/datasets/import",
            data={"csrf": csrf},
            files={"archive": ("../../evil.zip", _hostile_zip(), "application/zip")},
        ),
    )

    for what, answer in answers:
        assert answer.status_code < 500, (what, answer.status_code, answer.text[:500])
        if answer.headers.get("content-type", "").startswith("application/json"):
            error = answer.json().get("error")
            assert error is None or (error and "\n" not in error), (what, error)
        elif answer.status_code == 400:  # a page: the form again, with one line of reason
            shown = re.findall(r'<p class="error" role="alert">(.*?)</p>', answer.text, re.S)
            assert len(shown) == 1 and "\n" not in shown[0], (what, shown)
        assert "/etc/passwd" not in answer.text or what.startswith("PREUVE"), what
    assert all(a.status_code == 201 for w, a in answers if w.startswith("API JSON")), answers
    assert any(a.status_code == 303 for w, a in answers if w.startswith("validator"))

    written = _files(tmp_path) - before
    for path in written:
        inside = path.resolve().relative_to(home.resolve())  # ValueError: an escaped file
        if inside.parts[0] == uploads.name:
            for part in inside.parts[1:]:
                assert SAFE_PART.fullmatch(part) and part not in {".", ".."}, path
        else:
            assert inside.name.startswith("drimlab.db") or inside.parts[0] == "exports", path
    assert not any(p.is_symlink() for p in _files(tmp_path))
    for escaped in ("passwd", "path", "win", "b", "evil", "zip-evil.dcm", "b-zip-evil.dcm"):
        assert not (tmp_path / escaped).exists() and not (home / escaped).exists(), escaped
    assert root.get("/server").status_code == 200


# -- headers of every answer; downloads -----------------------------------------------------------

CSP = "script-src 'self'; object-src 'none'; frame-ancestors 'none'"


def test_every_answer_forbids_inline_scripts_framing_and_sniffing(shared: SharedPortal) -> None:
    alice = shared.login("alice")
    report_id = _validate_a_kos(shared, alice)
    run_id = _start_run(alice)
    answers = {
        "login page": shared.client().get("/login"),
        "redirect to login": shared.client().get("/server", follow_redirects=False),
        "page": alice.get("/server"),
        "404 page": alice.get("/reports/no-such-report"),
        "static": alice.get("/static/portal.js"),
        "API error": alice.get("/api/validations"),
        "413": alice.post("/validate", content=b"x", headers={"Content-Length": str(1 << 40)}),
        "report download": alice.get(f"/reports/{report_id}/download/html"),
        "evidence bundle": alice.get(f"/runs/{run_id}/evidence.zip"),
    }
    for what, answer in answers.items():
        assert answer.headers.get("content-security-policy") == CSP, what
        assert answer.headers.get("x-content-type-options") == "nosniff", what
        assert answer.headers.get("referrer-policy") == "same-origin", what
    assert answers["413"].status_code == 413
    for fmt in ("text", "json", "html", "junit", "gazelle-json", "gazelle-xml"):
        download = alice.get(f"/reports/{report_id}/download/{fmt}")
        assert download.status_code == 200, fmt
        assert download.headers["content-disposition"].startswith("attachment;"), fmt
    # the files a vendor uploaded come back only inside a zip, as an attachment
    bundle = answers["evidence bundle"]
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    assert bundle.headers["content-disposition"].startswith("attachment;")
    templates = Path(__file__).parents[2] / "src" / "drimlab" / "portal" / "templates"
    for template in templates.glob("*.j2"):  # no inline script the policy would block
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template.name
        assert not re.search(r"\son[a-z]+\s*=", source), template.name


def test_a_hostile_exam_name_is_refused_and_shown_escaped(shared: SharedPortal) -> None:
    root = shared.login("root")
    answer = root.post(
        "/datasets/import",
        data={"csrf": csrf_of(root.get("/datasets")), "name": '"><script>alert(1)</script>'},
        files={"files": ("a.dcm", b"not DICOM", "application/dicom")},
    )
    assert answer.status_code == 400
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
