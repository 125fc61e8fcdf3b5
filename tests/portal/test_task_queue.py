"""Background validations on the task queue (procrastinate on a real PostgreSQL), run by
real `drimlab worker` processes: the API answers 202 with the job, a worker validates with
the same path as the CLI, the job lists the validations; jobs queued while no worker runs are
kept and done when one starts; a stopped worker's jobs go to the other.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.datasets.catalog import list_exams
from drimlab.portal import SimulatorLink, create_app
from drimlab.portal.queue import apply_queue_schema, queue_app
from drimlab.portal.serve import build_portal
from drimlab.store import accounts, open_store
from drimlab.store.background import find_job, latest_job
from drimlab.store.listings import page_exchanges
from drimlab.testing.postgres import PostgresServer
from drimlab.testing.process import ChildProcess, free_port, port_accepts

from .conftest import PASSWORD

pytestmark = [pytest.mark.peer, pytest.mark.slow]
DRIMLAB = str(Path(sys.executable).parent / "drimlab")
WAIT_SECONDS = 300.0


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def _worker(settings: Settings, log: Path, *options: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DRIMLAB_HOME": str(settings.home),
        "DRIMLAB_DATABASE_URL": settings.database_url,
    }
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [DRIMLAB, "worker", *options], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _settled(client: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job = client.get(location, headers=headers).json()
        if job["state"] in {"done", "failed"}:
            return dict(job)
        time.sleep(0.3)
    pytest.fail(f"{location} not settled within {WAIT_SECONDS} s")


def test_larger_validations_go_to_the_task_queue_and_real_workers_do_them(
    pg: PostgresServer, tmp_path: Path, reference_dir: Path, capsys: Any
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=pg.create_database("queue"))
    store = open_store(settings)
    portal = build_portal(
        store,
        settings,
        SimulatorLink(base_url="https://localhost:1/dicom-web"),
        prepare_dataset=False,
    )
    app = queue_app(settings)
    apply_queue_schema(app)
    apply_queue_schema(app)  # a second worker or portal finds the schema and goes on
    portal.accounts, portal.queue, portal.background_above = True, app, 0
    accounts.create_organisation(store, "Vendor A")
    accounts.create_organisation(store, "Vendor B")
    alice = accounts.create_user(store, "alice", PASSWORD, "vendor", "Vendor A")
    bob = accounts.create_user(store, "bob", PASSWORD, "vendor", "Vendor B")
    a_token = {"Authorization": f"Bearer {accounts.create_api_token(store, alice, 'CI')[0]}"}
    b_token = {"Authorization": f"Bearer {accounts.create_api_token(store, bob, 'CI')[0]}"}
    request = reference_dir / "wado-rs" / "request-series.txt"
    capsys.readouterr()
    run(["validate", "request", str(request), "--format", "json"])
    expected = json.loads(capsys.readouterr().out)["verdict"]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with TestClient(create_app(portal), base_url="https://testserver") as client:
            # queued while no worker runs: kept in PostgreSQL
            locations = []
            for _ in range(3):
                answer = client.post(
                    "/api/validations?validator=request&name=request.txt",
                    content=request.read_bytes(),
                    headers={**a_token, "Content-Type": "message/http"},
                )
                assert answer.status_code == 202, answer.text
                assert answer.json()["state"] == "queued"
                locations.append(answer.headers["location"])
            assert client.get(locations[0], headers=b_token).status_code == 404
            workers.append(_worker(settings, tmp_path / "worker-1.log"))
            workers.append(_worker(settings, tmp_path / "worker-2.log"))
            for location in locations:
                job = _settled(client, location, a_token)
                assert job["state"] == "done" and job["attempts"] == 1, job
                (validation,) = job["validations"]
                got = client.get(validation["links"]["self"], headers=a_token).json()
                assert got["verdict"] == expected  # the CLI's verdict
                assert client.get(validation["links"]["self"], headers=b_token).status_code == 404
            # one worker stopped: the other takes what comes next
            _stop(workers[0])
            later = client.post(
                "/api/validations?validator=request",
                content=request.read_bytes(),
                headers={**a_token, "Content-Type": "message/http"},
            )
            assert _settled(client, later.headers["location"], a_token)["state"] == "done"
            # a job that cannot be validated fails with a one-line reason
            broken = client.post(
                "/api/validations?validator=kos",
                content=b"not a DICOM file",
                headers={**a_token, "Content-Type": "application/dicom"},
            )
            failed = _settled(client, broken.headers["location"], a_token)
            assert failed["state"] == "failed" and "\n" not in failed["error"]
    finally:
        for worker in workers:
            _stop(worker)
        store.close()
    logs = " ".join(p.read_text(errors="replace") for p in tmp_path.glob("worker-*.log"))
    assert "Traceback" not in logs
    assert PASSWORD not in logs


def _har(entries: int) -> bytes:
    """A HAR capture of many retrievals: a job long enough to be caught while it runs."""
    entry = {
        "request": {
            "method": "GET",
            "url": "https://source.test/dicom-web/studies/1.2.3/series/4.5.6",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Accept", "value": 'multipart/related; type="application/dicom"'}],
        },
        "response": {"status": 404, "statusText": "Not Found", "headers": [], "content": {}},
    }
    return json.dumps({"log": {"version": "1.2", "entries": [entry] * entries}}).encode()


def test_a_worker_killed_during_a_job_loses_nothing_the_job_finishes_on_another(
    pg: PostgresServer, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=pg.create_database("killed"))
    store = open_store(settings)
    portal = build_portal(
        store,
        settings,
        SimulatorLink(base_url="https://localhost:1/dicom-web"),
        prepare_dataset=False,
    )
    app = queue_app(settings)
    apply_queue_schema(app)
    portal.queue, portal.background_above = app, 0
    first = _worker(settings, tmp_path / "worker-1.log", "--stalled-after", "10")
    second: subprocess.Popen[bytes] | None = None
    try:
        with TestClient(create_app(portal), base_url="https://testserver") as client:
            caught = None
            for _ in range(5):  # until a job is seen running before it ends
                answer = client.post(
                    "/api/validations?validator=har&name=capture.har",
                    content=_har(400),
                    headers={"Content-Type": "application/json-har"},
                )
                assert answer.status_code == 202, answer.text
                location = answer.headers["location"]
                deadline = time.monotonic() + WAIT_SECONDS
                state = "queued"
                while state == "queued" and time.monotonic() < deadline:
                    state = client.get(location).json()["state"]
                    time.sleep(0.01)
                if state == "running":
                    first.send_signal(signal.SIGKILL)  # no chance to finish or hand it back
                    first.wait(30)
                    caught = location
                    break
            if caught is None:
                pytest.skip("every job ended before it could be caught running")
            assert client.get(caught).json()["state"] == "running"
            second = _worker(settings, tmp_path / "worker-2.log", "--stalled-after", "10")
            job = _settled(client, caught, {})
            assert job["state"] == "done", job
            assert job["attempts"] >= 2  # once on the killed worker, then on the other
            assert len(job["validations"]) == 400
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
        store.close()


def test_client_simulator_runs_are_done_by_a_task_worker_and_shown_by_any_portal(
    pg: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=pg.create_database("client"))
    monkeypatch.setenv("DRIMLAB_HOME", str(settings.home))
    monkeypatch.setenv("DRIMLAB_DATABASE_URL", settings.database_url)
    port = free_port()
    serve = ChildProcess(
        [DRIMLAB, "serve", "--port", str(port), "--crl-port", "0"],
        log_path=tmp_path / "serve.log",
        cwd=tmp_path,
    )
    worker: subprocess.Popen[bytes] | None = None
    store = open_store(settings)
    try:
        serve.wait_until(functools.partial(port_accepts, port), timeout=WAIT_SECONDS, what="serve")
        link = SimulatorLink(base_url=f"https://localhost:{port}/dicom-web")
        portals = [build_portal(store, settings, link, prepare_dataset=False) for _ in range(2)]
        for each in portals:  # each portal its own connection pool, as separate workers
            each.queue = queue_app(settings)
            apply_queue_schema(each.queue)
        exam = list_exams(store)[0]
        with (
            TestClient(create_app(portals[0]), base_url="https://testserver") as first,
            TestClient(create_app(portals[1]), base_url="https://testserver") as second,
        ):
            form = {
                "source": "exam",
                "exam": exam.name,
                "base_url": link.base_url,
                "level": "series",
                "accept_preset": "drim-m",
                "certificate": "consumer",
                "mode": "retrieve",
                "profile": "drim-m",
                "token": portals[0].env.issuer.issue(),  # typed in the form: a secret
            }
            answer = first.post("/client", data=form, follow_redirects=False)
            assert answer.status_code == 303, answer.text[:300]
            location = answer.headers["location"]
            row = find_job(store, location.rsplit("/", 1)[1])
            assert row is not None and form["token"] not in json.dumps(dict(row.inputs))
            queued = second.get(location, headers={"Accept": "application/json"}).json()
            assert queued["state"] == "queued"  # no worker yet: kept in PostgreSQL
            assert portals[0].jobs.get(location.rsplit("/", 1)[1]) is None  # not in-process
            worker = _worker(settings, tmp_path / "worker.log")
            job = _settled(second, location, {"Accept": "application/json"})
            assert job["state"] == "done" and job["verdict"] == "PASSED", job
            assert job["parts"] > 0 and job["steps_done"] == job["steps_total"]
            page = second.get(location)
            stored = page_exchanges(store).items
            client_side = [e for e in stored if e.origin == "client"]
            assert client_side and f"/exchanges/{client_side[0].id}" in page.text
            # a KOS that does not parse fails the form at once, before any job is queued
            bad = first.post(
                "/client",
                data={**form, "source": "upload"},
                files={"kos": ("kos.dcm", b"not DICOM")},
            )
            assert bad.status_code == 400 and 'role="alert"' in bad.text
    finally:
        if worker is not None:
            _stop(worker)
        serve.stop()
        store.close()
    assert "Traceback" not in (tmp_path / "worker.log").read_text(errors="replace")


def test_a_validation_step_of_a_run_page_is_queued_and_the_page_follows_it(
    pg: PostgresServer, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", database_url=pg.create_database("steps"))
    store = open_store(settings)
    link = SimulatorLink(base_url="https://localhost:1/dicom-web")
    portal = build_portal(store, settings, link, prepare_dataset=True)
    portal.queue = queue_app(settings)
    apply_queue_schema(portal.queue)
    scenario = "DRIM-M_SO_REPONSE_WADO"
    try:
        with TestClient(create_app(portal), base_url="https://testserver") as client:
            started = client.post(
                f"/scenarios/{scenario}/runs",
                data={"base_url": link.base_url},
                follow_redirects=False,
            )
            run_page = started.headers["location"]
            for step in ("load-exam", "trust-bench", "retrieve-series"):
                client.post(f"{run_page}/step", data={"action": "done", "step": step})
            job = latest_job(store, "resume", run_page.rsplit("/", 1)[1])
            assert job is not None and job.state == "queued"  # no worker runs
            shown = client.get(run_page).text
            assert f'data-job="/jobs/{job.id}"' in shown and 'id="step-form"' not in shown
            assert client.get(f"/jobs/{job.id}").json()["state"] == "queued"
            again = client.post(
                f"{run_page}/step", data={"action": "done", "step": "retrieve-series"}
            )
            assert "a task worker is running a step" in again.text
            assert latest_job(store, "resume", run_page.rsplit("/", 1)[1]) == job  # not twice
    finally:
        store.close()
