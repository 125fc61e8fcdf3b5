"""Benchmark: API validations of a shared environment, at once and on the task queue.

    python bench/shared_queue.py --jobs 60

On a private PostgreSQL, with accounts on and a vendor's API token: `--jobs` validations of
the ANS series request submitted through the API in-process (ASGI, no network) and answered
at once (`201`), with their p50/p95 latency; then the same number handed to the task queue
(`202`) to 1, then 2, real `drimlab worker` processes already running (warmed up by a few
jobs), timed from the first submission until every job is done. Printed: latencies in ms,
jobs per second, and the ratio of 2 workers to 1 (bounded by the machine's free cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from drimlab.config import Settings
from drimlab.portal import SimulatorLink, create_app
from drimlab.portal.queue import apply_queue_schema, queue_app
from drimlab.portal.serve import build_portal
from drimlab.store import accounts, open_store
from drimlab.testing.postgres import PostgresServer

REQUEST = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ans" / "wado-rs"
DRIMLAB = str(Path(sys.executable).parent / "drimlab")


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _queued(client: TestClient, headers: dict[str, str], body: bytes, jobs: int) -> list[str]:
    locations = []
    for _ in range(jobs):
        answer = client.post("/api/validations?validator=request", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        locations.append(answer.headers["location"])
    return locations


def _wait(client: TestClient, headers: dict[str, str], locations: list[str]) -> None:
    pending = set(locations)
    while pending:
        for location in list(pending):
            if client.get(location, headers=headers).json()["state"] in {"done", "failed"}:
                pending.discard(location)
        time.sleep(0.02)


def _throughput(
    client: TestClient,
    headers: dict[str, str],
    body: bytes,
    *,
    jobs: int,
    workers: int,
    env: dict[str, str],
) -> float:
    """Jobs per second of `workers` running processes (started and warmed up first)."""
    processes = [
        subprocess.Popen(
            [DRIMLAB, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    try:
        _wait(client, headers, _queued(client, headers, body, 2 * workers))  # every worker up
        started = time.perf_counter()
        _wait(client, headers, _queued(client, headers, body, jobs))
        return jobs / (time.perf_counter() - started)
    finally:
        for process in processes:
            process.terminate()
            process.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    args = parser.parse_args()
    body = (REQUEST / "request-series.txt").read_bytes()
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as pg:
        settings = Settings(home=Path(tmp) / "home", database_url=pg.create_database("bench"))
        store = open_store(settings)
        portal = build_portal(
            store,
            settings,
            SimulatorLink(base_url="https://localhost:1/dicom-web"),
            prepare_dataset=False,
        )
        app = queue_app(settings)
        apply_queue_schema(app)
        portal.accounts, portal.queue = True, app
        accounts.create_organisation(store, "Vendor A")
        alice = accounts.create_user(store, "alice", "a long bench password", "vendor", "Vendor A")
        token, _ = accounts.create_api_token(store, alice, "bench")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/http"}
        env = {
            **os.environ,
            "DRIMLAB_HOME": str(settings.home),
            "DRIMLAB_DATABASE_URL": settings.database_url,
        }
        results: dict[str, float] = {}
        with TestClient(create_app(portal), base_url="https://testserver") as client:
            portal.background_above = 1 << 40  # at once
            latencies = []
            for _ in range(args.jobs):
                started = time.perf_counter()
                answer = client.post(
                    "/api/validations?validator=request", content=body, headers=headers
                )
                latencies.append(time.perf_counter() - started)
                assert answer.status_code == 201
            results["sync_p50_ms"], results["sync_p95_ms"] = _p(latencies, 0.5), _p(latencies, 0.95)
            results["sync_jobs_per_s"] = args.jobs / sum(latencies)
            portal.background_above = 0  # every one to the queue
            for workers in (1, 2):
                results[f"queue_{workers}_workers_jobs_per_s"] = _throughput(
                    client, headers, body, jobs=args.jobs, workers=workers, env=env
                )
        store.close()
    results["ratio_2_to_1_workers"] = (
        results["queue_2_workers_jobs_per_s"] / results["queue_1_workers_jobs_per_s"]
    )
    print(json.dumps({k: round(v, 2) for k, v in results.items()}, indent=2))
    print(f"cores: {os.cpu_count()}, jobs: {args.jobs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
