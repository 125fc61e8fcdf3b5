"""Scenario runs driven through the REST API, as a vendor's CI does: start a run, upload the
evidence of its PREUVE step, resume it against the server simulator standing in for a source,
read its steps and export its bundle; another organisation gets 404 on every run URL; bad
input is a 4xx with a one-line JSON reason.
"""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from drimlab.portal.api_runs import _resume
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store import accounts
from drimlab.store.ownership import owner_of_exchange, owner_of_run

from .conftest import PortalUnderTest, SharedPortal, csrf_of
from .test_api import _check

SCENARIO = "DRIM-M_SO_REPONSE_WADO"


@pytest.fixture
def source_url(shared: SharedPortal) -> Iterator[str]:
    """The server simulator standing in for the source DRIMBox under test."""
    options = SourceOptions(port=0, crl_port=None)
    with source_in_thread(shared.store, shared.portal.env, options) as (_setup, server):
        yield f"https://localhost:{server.port}{options.base_path}"


def _tokens(shared: SharedPortal) -> dict[str, dict[str, str]]:
    users = {a.login: a for a in accounts.users(shared.store)}
    made = {}
    for login in ("alice", "bob", "monica"):
        token, _ = accounts.create_api_token(shared.store, users[login], "CI")
        made[login] = {"Authorization": f"Bearer {token}"}
    return made


def _step(run: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in run["steps"] if s["id"] == step_id)


def test_a_vendors_ci_drives_a_run_to_an_exportable_bundle(
    shared: SharedPortal, source_url: str
) -> None:
    auth = _tokens(shared)
    api = shared.client()
    started = api.post(
        "/api/runs",
        json={"scenario": SCENARIO, "inputs": {"base_url": source_url}, "profile": "drim-m"},
        headers=auth["alice"],
    )
    assert started.status_code == 201, started.text
    run = started.json()
    _check(run, "Run")
    assert started.headers["location"] == f"/api/runs/{run['id']}"
    assert run["status"] == "running" and run["waiting"] == "load-exam"
    assert all(s["status"] == "waiting" for s in run["steps"])
    vendor_a = next(o for o in accounts.organisations(shared.store) if o.name == "Vendor A")
    assert owner_of_run(shared.store, run["id"]) == vendor_a.id

    # two INSTRUCTION steps and the VALIDATION step; the PREUVE step waits for its file
    resumed = api.post(f"/api/runs/{run['id']}/resume", json={}, headers=auth["alice"])
    assert resumed.status_code == 200, resumed.text
    run = resumed.json()
    _check(run, "Run")
    assert [s["status"] for s in run["steps"]] == ["done", "done", "done", "waiting"], run
    assert run["waiting"] == "source-log" and run["status"] == "running"
    retrieve = _step(run, "retrieve-series")
    assert retrieve["exchanges"] and retrieve["reports"]
    assert owner_of_exchange(shared.store, retrieve["exchanges"][0]) == vendor_a.id
    assert _step(run, "source-log")["uploaded"] == {"source-log": []}

    log = b"GET /dicom-web/studies/1.2/series/3.4 200 multipart/related\n"
    uploaded = api.post(
        f"/api/runs/{run['id']}/evidence/source-log",
        files={"source-log": ("source ../../log.txt", log, "text/plain")},
        headers=auth["alice"],
    )
    assert uploaded.status_code == 201, uploaded.text
    _check(uploaded.json(), "EvidenceUploaded")
    assert uploaded.json()["file"] == "log.txt"
    assert _step(uploaded.json()["run"], "source-log")["uploaded"] == {"source-log": ["log.txt"]}

    finished = api.post(f"/api/runs/{run['id']}/resume", headers=auth["alice"]).json()
    assert finished["status"] == "done" and finished["waiting"] is None, finished
    kept = _step(finished, "source-log")["evidence"]
    assert [(e["name"], e["size"]) for e in kept] == [("source-log", len(log))]
    again = api.post(f"/api/runs/{run['id']}/resume", headers=auth["alice"])
    assert again.status_code == 409 and again.json()["error"]

    bundle = api.get(f"/api/runs/{run['id']}/bundle", headers=auth["alice"])
    assert bundle.status_code == 200 and bundle.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        names = archive.namelist()
    assert any(name.endswith("log.txt") for name in names), names
    target = shared.settings.home / "from-api.zip"
    target.write_bytes(bundle.content)
    verified = verify_bundle(target, shared.portal.env.pki.anchors())
    assert verified.failures == () and verified.missing == ()
    assert verified.verdict is MonitorVerdict.VERIFIED

    # the monitor sees the run; the other vendor gets 404 on every run URL, GET or POST
    assert api.get(f"/api/runs/{run['id']}", headers=auth["monica"]).status_code == 200
    for method, url in (
        ("get", f"/api/runs/{run['id']}"),
        ("get", f"/api/runs/{run['id']}/bundle"),
        ("post", f"/api/runs/{run['id']}/resume"),
        ("post", f"/api/runs/{run['id']}/evidence/source-log"),
    ):
        answer = api.request(method, url, headers=auth["bob"], content=b"x")
        assert answer.status_code == 404 and answer.json()["error"], (method, url)


def test_a_run_waiting_for_evidence_refuses_bad_uploads_and_other_organisations(
    shared: SharedPortal,
) -> None:
    auth = _tokens(shared)
    api = shared.client()
    run = api.post("/api/runs", json={"scenario": SCENARIO}, headers=auth["alice"]).json()
    run_id = run["id"]
    evidence = f"/api/runs/{run_id}/evidence"

    # Vendor B may neither upload to, resume nor read Vendor A's run
    stolen = api.post(f"{evidence}/source-log", content=b"log", headers=auth["bob"])
    assert stolen.status_code == 404
    assert api.post(f"/api/runs/{run_id}/resume", headers=auth["bob"]).status_code == 404
    assert api.get(f"/api/runs/{run_id}", headers=auth["bob"]).status_code == 404

    refusals = [
        (f"{evidence}/no-such-step", b"log", {}, 404),
        (f"{evidence}/load-exam", b"log", {}, 400),  # an INSTRUCTION step
        (f"{evidence}/source-log", b"", {}, 400),  # empty
        (f"{evidence}/source-log?name=other", b"log", {}, 400),  # not an evidence name
        (f"{evidence}/source-log", b"x" * (9 * 1024 * 1024), {}, 413),  # past the limit
    ]
    for url, body, extra, status in refusals:
        answer = api.post(url, content=body, headers={**auth["alice"], **extra})
        assert answer.status_code == status, (url, answer.text)
        assert "\n" not in answer.json()["error"], url
    two = api.post(
        f"{evidence}/source-log",
        files=[("source-log", ("a.txt", b"a")), ("source-log", ("b.txt", b"b"))],
        headers=auth["alice"],
    )
    none = api.post(f"{evidence}/source-log", files={"x": ("", b"")}, headers=auth["alice"])
    for answer in (two, none):
        assert answer.status_code == 400 and "\n" not in answer.json()["error"], answer.text
    raw = api.post(
        f"{evidence}/source-log?filename=../../etc/passwd",
        content=b"a raw log\n",
        headers={**auth["alice"], "Content-Type": "text/plain"},
    )
    assert raw.status_code == 201 and raw.json()["file"] == "passwd"
    replaced = api.post(
        f"{evidence}/source-log?filename=second.log", content=b"2", headers=auth["alice"]
    )
    assert replaced.status_code == 201
    assert _step(replaced.json()["run"], "source-log")["uploaded"] == {"source-log": ["second.log"]}
    stored = shared.portal.uploads_dir / "run-evidence" / run_id / "source-log" / "source-log"
    assert [p.name for p in stored.iterdir()] == ["second.log"]

    bad_bodies: list[tuple[str, Any, int]] = [
        ("/api/runs", b"not json", 400),
        ("/api/runs", b"[1]", 400),
        ("/api/runs", b'{"scenario": "NO_SUCH"}', 404),
        ("/api/runs", b'{"inputs": {}}', 400),
        ("/api/runs", b'{"scenario": "%s", "inputs": {"nope": "1"}}' % SCENARIO.encode(), 400),
        ("/api/runs", b'{"scenario": "%s", "inputs": [1]}' % SCENARIO.encode(), 400),
        ("/api/runs", b'{"scenario": "%s", "profile": "nope"}' % SCENARIO.encode(), 400),
        (f"/api/runs/{run_id}/resume", b'{"maxSteps": 0}', 400),
        (f"/api/runs/{run_id}/resume", b'{"maxSteps": "2"}', 400),
        (f"/api/runs/{run_id}/resume", b'{"skip": "yes"}', 400),
        ("/api/runs/no-such-run/resume", b"{}", 404),
    ]
    for url, body, status in bad_bodies:
        answer = api.post(url, content=body, headers=auth["alice"])
        assert answer.status_code == status, (url, body, answer.text)
        assert answer.json()["error"] and "\n" not in answer.json()["error"]

    # the bundle of a run still running is exported as it stands (its steps waiting)
    running = api.get(f"/api/runs/{run_id}/bundle", headers=auth["alice"])
    assert running.status_code == 200 and running.headers["content-type"] == "application/zip"

    # one step at a time, as the portal's run page does
    one = api.post(f"/api/runs/{run_id}/resume", json={"maxSteps": 1}, headers=auth["alice"])
    assert [s["status"] for s in one.json()["steps"]][:2] == ["done", "waiting"]
    # a browser session needs its CSRF token for a POST, like every other API POST
    alice = shared.login("alice")
    assert alice.post("/api/runs", json={"scenario": SCENARIO}).status_code == 403
    page = alice.get("/account")
    with_csrf = alice.post(
        "/api/runs", json={"scenario": SCENARIO}, headers={"X-CSRF-Token": csrf_of(page)}
    )
    assert with_csrf.status_code == 201
    assert api.post("/api/runs", json={"scenario": SCENARIO}).status_code == 401


def test_without_accounts_the_lab_drives_runs_through_the_api(portal: PortalUnderTest) -> None:
    started = portal.client.post("/api/runs", json={"scenario": SCENARIO, "language": "fr"})
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    named = portal.client.post(
        f"/api/runs/{run_id}/evidence/source-log",
        files={"file": ("log.txt", b"a log")},
        params={"name": "source-log"},
    )
    assert named.status_code == 201 and named.json()["name"] == "source-log"
    wrong = portal.client.post("/api/runs", json={"scenario": SCENARIO, "language": "de"})
    assert wrong.status_code == 400 and "language" in wrong.json()["error"]
    # skip settles INSTRUCTION steps as skipped; the VALIDATION step fails (nothing listens)
    # and the PREUVE step keeps the uploaded file: the run is finished, failed
    done = portal.client.post(f"/api/runs/{run_id}/resume", json={"skip": True}).json()
    assert [s["status"] for s in done["steps"]] == ["skipped", "skipped", "failed", "done"]
    assert done["status"] == "failed" and _step(done, "retrieve-series")["detail"]
    assert portal.client.get(f"/api/runs/{run_id}/bundle").status_code == 200


def test_concurrent_resumes_of_one_run_settle_each_step_once(
    shared: SharedPortal, source_url: str
) -> None:
    auth = _tokens(shared)
    api = shared.client()
    started = api.post(
        "/api/runs",
        json={"scenario": SCENARIO, "inputs": {"base_url": source_url}},
        headers=auth["alice"],
    ).json()
    run_id = started["id"]
    steps = len(started["steps"])
    alone = api.post(
        "/api/runs",
        json={"scenario": SCENARIO, "inputs": {"base_url": source_url}},
        headers=auth["alice"],
    ).json()
    _resume(shared.portal, alone["id"], steps, False)
    baseline = api.get(f"/api/runs/{alone['id']}", headers=auth["alice"]).json()
    one_retrieval = len(_step(baseline, "retrieve-series")["exchanges"])
    failures: list[BaseException] = []

    def resume() -> None:
        try:
            _resume(shared.portal, run_id, steps, False)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    run = api.get(f"/api/runs/{run_id}", headers=auth["alice"]).json()
    assert [s["status"] for s in run["steps"]] == ["done", "done", "done", "waiting"], run
    retrieval = _step(run, "retrieve-series")
    # one retrieval, not one per resume: as many exchanges as a run resumed alone
    assert len(set(retrieval["exchanges"])) == one_retrieval > 0, retrieval


def test_a_step_form_shown_before_another_page_settled_it_is_refused(
    shared: SharedPortal, source_url: str
) -> None:
    alice = shared.login("alice")
    page = alice.get(f"/scenarios/{SCENARIO}")
    started = alice.post(
        f"/scenarios/{SCENARIO}/runs",
        data={"csrf": csrf_of(page), "base_url": source_url},
        follow_redirects=False,
    )
    run_page = started.headers["location"]
    first, second = alice.get(run_page), alice.get(run_page)  # two tabs on the same step
    done = alice.post(
        f"{run_page}/step", data={"csrf": csrf_of(first), "action": "done", "step": "load-exam"}
    )
    assert done.status_code == 200
    stale = alice.post(
        f"{run_page}/step", data={"csrf": csrf_of(second), "action": "done", "step": "load-exam"}
    )
    assert "settled meanwhile" in stale.text
    run_id = run_page.rsplit("/", 1)[1]
    run = shared.client().get(f"/api/runs/{run_id}", headers=_tokens(shared)["alice"]).json()
    assert [s["status"] for s in run["steps"]][:2] == ["done", "waiting"], run
