"""A shared environment as it is deployed, every part a real process: PostgreSQL, the server
simulator (`drimlab serve`), two portal/API workers (`drimlab portal --accounts
--task-queue`), a task worker (`drimlab worker`) and nginx in front of the portal workers.

Vendors A and B and a monitor log in through nginx (their requests spread over both
workers); A's consumer retrieves over mTLS and only A and the monitor see the exchange; B
gets 404 on A's exchange, report, run, bundle and job, in the portal and the API; A's
validation goes to the task queue and comes back; A runs a scenario, the monitor records
VERIFIED and A sees it; a portal worker is killed and the sessions carry on on the other.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

from drimlab.config import Settings
from drimlab.simulators.environment import SOURCE_CERT
from drimlab.store import open_store
from drimlab.store.background import latest_job
from drimlab.testing.nginx_front import PortalFront
from drimlab.testing.postgres import PostgresServer
from drimlab.testing.process import ChildProcess, free_port, port_accepts
from drimlab.trust.pki import DEFAULT_CONSUMER_HOST, Pki

from .conftest import PASSWORD
from .test_browser import _consumer_retrieves

pytestmark = [pytest.mark.peer, pytest.mark.slow]
DRIMLAB = str(Path(sys.executable).parent / "drimlab")
SCENARIO = "DRIM-M_SO_REPONSE_WADO"
WAIT_SECONDS = 300.0


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def _admin(*argv: str, password: bool = False) -> None:
    subprocess.run(
        [DRIMLAB, "admin", *argv, *(["--password-stdin"] if password else [])],
        input=(PASSWORD + "\n").encode() if password else None,
        check=True,
        capture_output=True,
    )


def _started(argv: list[str], port: int, log: Path) -> ChildProcess:
    process = ChildProcess(argv, log_path=log, cwd=log.parent)
    process.wait_until(functools.partial(port_accepts, port), timeout=WAIT_SECONDS, what=argv[1])
    return process


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found.group(1)


OPEN: list[httpx.Client] = []  # closed at the end of the test


def _login(base: str, ca: Path, login: str) -> httpx.Client:
    client = httpx.Client(
        follow_redirects=True,
        base_url=base,
        verify=ssl.create_default_context(cafile=str(ca)),
        trust_env=False,
        timeout=120,
    )
    OPEN.append(client)
    form = client.get("/login")
    answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf": _csrf(form)})
    assert answer.status_code == 200 and 'id="who"' in answer.text, answer.text[:300]
    return client


def _settled(client: httpx.Client, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        job = client.get(location, headers={"Accept": "application/json"}).json()
        if job["state"] in {"done", "failed"}:
            return dict(job)
        time.sleep(0.3)
    pytest.fail(f"{location} not settled")


def _when_made(client: httpx.Client, path: str) -> httpx.Response:
    """GET `path`; while a task worker makes it (202 and its job), wait for the job."""
    answer = client.get(path)
    if answer.status_code == 202:
        job = _settled(client, answer.headers.get("location", path))
        assert job["state"] == "done", job
        answer = client.get(path)
    return answer


def _resumed(client: httpx.Client, run: str) -> dict[str, Any]:
    """Resume a run through the API: a task worker drives it, the job links the run."""
    answer = client.post(f"{run}/resume")
    assert answer.status_code == 202, answer.text
    job = _settled(client, answer.headers["location"])
    assert job["state"] == "done" and job["links"]["run"] == run, job
    return dict(client.get(run).json())


def test_a_shared_environment_of_real_processes_behind_nginx(
    pg: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_dir: Path
) -> None:
    home = tmp_path / "home"
    url = pg.create_database("shared")
    monkeypatch.setenv("DRIMLAB_HOME", str(home))
    monkeypatch.setenv("DRIMLAB_DATABASE_URL", url)  # every child inherits both
    _admin("create-organisation", "Vendor A", "--identity", DEFAULT_CONSUMER_HOST)
    _admin("create-organisation", "Vendor B", "--identity", "consumer.vendor-b.test")
    _admin("create-user", "alice", "--organisation", "Vendor A", password=True)
    _admin("create-user", "bob", "--organisation", "Vendor B", password=True)
    _admin("create-user", "monica", "--role", "monitor", password=True)

    processes: list[ChildProcess] = []
    simulator_port, ports = free_port(), (free_port(), free_port())
    try:
        processes.append(
            _started(
                [DRIMLAB, "serve", "--port", str(simulator_port), "--crl-port", "0"],
                simulator_port,
                tmp_path / "serve.log",
            )
        )
        simulator = f"https://localhost:{simulator_port}/dicom-web"
        for index, port in enumerate(ports):
            argv = [DRIMLAB, "portal", "--accounts", "--task-queue", "--background-above", "0"]
            argv += ["--port", str(port), "--simulator-url", simulator]
            processes.append(_started(argv, port, tmp_path / f"portal-{index}.log"))
        worker = ChildProcess([DRIMLAB, "worker"], log_path=tmp_path / "worker.log", cwd=tmp_path)
        processes.append(worker)
        pki = Pki.open(home / "pki")
        with PortalFront(
            upstreams=[f"127.0.0.1:{p}" for p in ports],
            cert_file=pki.chain_path(SOURCE_CERT),
            key_file=pki.key_path(SOURCE_CERT),
        ) as front:
            _scenario_of_the_day(
                front.url,
                pki.bundle_path,
                home=home,
                url=url,
                simulator=simulator,
                reference_dir=reference_dir,
            )
            # a portal worker dies: nginx sends everything to the other, sessions carry on
            alice = _login(front.url, pki.bundle_path, "alice")
            os.kill(processes[1].pid, signal.SIGKILL)
            for _ in range(6):
                assert alice.get("/server").status_code == 200
            assert "alice" in alice.get("/account").text
    finally:
        for client in OPEN:
            client.close()
        OPEN.clear()
        for process in processes:
            process.stop()
    logs = " ".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
    assert PASSWORD not in logs


def _scenario_of_the_day(
    base: str, ca: Path, *, home: Path, url: str, simulator: str, reference_dir: Path
) -> None:
    settings = Settings(home=home, database_url=url)
    store = open_store(settings)
    try:
        lab = _LabView(store, settings, simulator)
        _consumer_retrieves(lab)  # type: ignore[arg-type]
        exchange_id = store_latest_exchange(store)
    finally:
        store.close()
    alice, bob, monica = (_login(base, ca, who) for who in ("alice", "bob", "monica"))

    # the exchange of A's consumer: A and the monitor see it, B does not
    assert exchange_id in alice.get("/server").text
    assert exchange_id in monica.get("/server").text
    assert exchange_id not in bob.get("/server").text
    assert bob.get(f"/exchanges/{exchange_id}").status_code == 404
    token_page = alice.post(
        "/account/tokens", data={"csrf": _csrf(alice.get("/account")), "name": "CI"}
    )
    found = re.search(r"<code>(drl_[^<]+)</code>", token_page.text)
    assert found is not None
    a_api = httpx.Client(
        base_url=base,
        verify=ssl.create_default_context(cafile=str(ca)),
        trust_env=False,
        timeout=120,
        headers={"Authorization": f"Bearer {found.group(1)}"},
    )
    b_token = (
        subprocess.run([DRIMLAB, "admin", "create-token", "bob"], check=True, capture_output=True)
        .stdout.decode()
        .strip()
    )
    OPEN.append(a_api)
    b_api = httpx.Client(
        base_url=base,
        verify=ssl.create_default_context(cafile=str(ca)),
        trust_env=False,
        timeout=120,
        headers={"Authorization": f"Bearer {b_token}"},
    )
    OPEN.append(b_api)
    exchange = a_api.get(f"/api/exchanges/{exchange_id}")
    assert exchange.status_code == 200 and exchange.json()["reports"]
    report_id = exchange.json()["reports"][0]["id"]
    assert b_api.get(f"/api/exchanges/{exchange_id}").status_code == 404
    assert b_api.get(f"/api/validations/{report_id}/report").status_code == 404
    assert bob.get(f"/reports/{report_id}?alone=1").status_code == 404

    # a validation through the API goes to the task queue and comes back
    request = reference_dir / "wado-rs" / "request-series.txt"
    submitted = a_api.post(
        "/api/validations?validator=request",
        content=request.read_bytes(),
        headers={"Content-Type": "message/http"},
    )
    assert submitted.status_code == 202, submitted.text
    job = _settled(a_api, submitted.headers["location"])
    assert job["state"] == "done" and job["validations"]
    assert b_api.get(submitted.headers["location"]).status_code == 404

    # A runs a scenario; the monitor records VERIFIED; A sees it
    started = alice.post(
        f"/scenarios/{SCENARIO}/runs",
        follow_redirects=False,
        data={"csrf": _csrf(alice.get(f"/scenarios/{SCENARIO}")), "base_url": simulator},
    )
    run_id = started.headers["location"].rsplit("/", 1)[1]
    for _ in range(3):  # two instructions, then the retrieval the page launches
        alice.post(f"/runs/{run_id}/step", data={"csrf": _csrf(alice.get("/")), "action": "done"})
    # the retrieval is a task worker's job, which the run page follows while it runs
    store = open_store(settings)
    try:
        job = latest_job(store, "resume", run_id)
    finally:
        store.close()
    assert job is not None and job.inputs["step"] == "retrieve-series"
    shown = alice.get(f"/runs/{run_id}").text
    if not alice.get(f"/jobs/{job.id}").json()["finished"]:  # so it was not when shown
        assert f'data-job="/jobs/{job.id}"' in shown
    assert bob.get(f"/jobs/{job.id}").status_code == 404
    assert _settled(alice, f"/jobs/{job.id}")["state"] == "done"
    alice.post(
        f"/runs/{run_id}/step",
        data={"csrf": _csrf(alice.get("/")), "action": "done"},
        files={"evidence-source-log": ("source-log.txt", b"GET /dicom-web/studies 200\n")},
    )
    run = a_api.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "done", run
    for path in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/bundle"):
        assert b_api.get(path).status_code == 404, path
    assert bob.get(f"/runs/{run_id}").status_code == 404
    # the bundle is exported by the task worker: the portal's page waits for it, then serves it
    waiting = alice.get(f"/runs/{run_id}/evidence.zip")
    assert waiting.status_code == 202 and 'data-job="/runs/' in waiting.text
    assert bob.get(f"/runs/{run_id}/evidence.zip").status_code == 404
    bundle = _when_made(alice, f"/runs/{run_id}/evidence.zip")
    assert bundle.status_code == 200 and zipfile.ZipFile(BytesIO(bundle.content)).namelist()
    again = a_api.get(f"/api/runs/{run_id}/bundle")  # the run has not moved: the same zip
    assert again.status_code == 200 and again.content == bundle.content
    assert run_id[:8] in monica.get("/worklist").text
    review = monica.post(
        f"/runs/{run_id}/review",
        follow_redirects=False,
        data={
            "csrf": _csrf(monica.get(f"/runs/{run_id}")),
            "status": "VERIFIED",
            "comment": "complete",
        },
    )
    assert review.status_code == 303
    assert a_api.get(f"/api/runs/{run_id}").json()["reviews"][0]["status"] == "VERIFIED"
    assert "VERIFIED" in alice.get(f"/runs/{run_id}").text

    # A's CI drives a run through the API, its requests spread over both workers
    made = a_api.post("/api/runs", json={"scenario": SCENARIO, "inputs": {"base_url": simulator}})
    assert made.status_code == 201, made.text
    ci_run = made.headers["location"]
    assert _resumed(a_api, ci_run)["waiting"] == "source-log"
    for path in (f"{ci_run}/resume", f"{ci_run}/evidence/source-log"):
        assert b_api.post(path, content=b"log").status_code == 404, path
    uploaded = a_api.post(
        f"{ci_run}/evidence/source-log", files={"source-log": ("ci.log", b"GET 200\n")}
    )
    assert uploaded.status_code == 201, uploaded.text
    finished = _resumed(a_api, ci_run)
    assert finished["status"] == "done", finished
    assert _when_made(a_api, f"{ci_run}/bundle").status_code == 200
    assert b_api.get(f"{ci_run}/bundle").status_code == 404

    # A's client-simulator run from the portal: a task worker retrieves, A sees it, B does not
    exam = re.search(r'name="exam"[^>]*>\s*<option value="([^"]+)"', alice.get("/client").text)
    form = {"csrf": _csrf(alice.get("/client")), "source": "exam", "base_url": simulator}
    form |= {"level": "series", "accept_preset": "drim-m", "certificate": "consumer"}
    form |= {"mode": "retrieve", "profile": "drim-m", "exam": exam.group(1) if exam else ""}
    started = alice.post("/client", data=form, follow_redirects=False)
    assert started.status_code == 303, started.text[:300]
    job_page = started.headers["location"]
    job = _settled(alice, job_page)
    assert job["state"] == "done" and job["verdict"] == "PASSED", job
    assert bob.get(job_page).status_code == 404
    shown = alice.get(job_page).text
    client_exchange = re.search(r'href="/exchanges/([0-9a-f-]+)"', shown)
    assert client_exchange is not None, shown[:500]
    assert bob.get(f"/exchanges/{client_exchange.group(1)}").status_code == 404
    assert monica.get(f"/exchanges/{client_exchange.group(1)}").status_code == 200


class _LabView:
    """What `_consumer_retrieves` reads of a lab: the store, the PKI, the issuer, the URL."""

    def __init__(self, store: Any, settings: Settings, simulator: str) -> None:
        from drimlab.simulators.environment import BenchEnvironment

        self.store = store
        self.env = BenchEnvironment.prepare(store, settings, dataset=False)
        self.simulator_base = simulator


def store_latest_exchange(store: Any) -> str:
    """The exchange the simulator process records once it has answered (with its report)."""
    from drimlab.store.listings import page_exchanges

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        items = page_exchanges(store).items
        if items and items[0].verdict:
            return items[0].id
        time.sleep(0.2)
    pytest.fail("the simulator recorded no exchange")
