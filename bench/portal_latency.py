"""Benchmark: page latency of the portal with a large store, on SQLite and PostgreSQL.

    python bench/portal_latency.py --exchanges 100000 --requests 200

Fills a fresh store with `--exchanges` server-simulator exchanges (each with its report, a
mix of verdicts, statuses, client certificates and exams; 1 in 50 a file validation) by bulk
inserts, then times the pages in-process through the ASGI app (routing, store queries,
templates; no network): the live list of exchanges (first page, a filtered page, a page deep
in the list through its cursor), one exchange page, and the validation history. Printed: p50
and p95 in ms per page and database. Target: p95 < 200 ms on 100,000 exchanges.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import MetaData, insert
from starlette.testclient import TestClient

from drimlab.config import Settings
from drimlab.portal import SimulatorLink, create_app
from drimlab.portal.serve import build_portal
from drimlab.store import Store, open_store
from drimlab.testing.postgres import PostgresServer

BATCH = 5000
VERDICTS = ["PASSED"] * 8 + ["FAILED"] * 2
STATUSES = [200] * 8 + [400, 404]
CLIENTS = [f"CN=db{n}.vendor.test,OU=30000000000{n:04d},O=VENDOR {n},C=FR" for n in range(8)]


def _report(verdict: str, subject: str, when: datetime) -> dict[str, object]:
    findings = []
    if verdict == "FAILED":
        findings = [
            {
                "rule": "DRIM-002",
                "severity": "error",
                "message": "the KOS-SOPInstanceUID header is missing",
                "location": "header KOS-SOPInstanceUID",
                "location_detail": {"header": "KOS-SOPInstanceUID"},
            }
        ]
    return {
        "verdict": verdict,
        "subject": subject,
        "profile": "drim-m",
        "validator": "drimlab",
        "tool_version": "bench",
        "started_at": when.isoformat(),
        "finished_at": when.isoformat(),
        "counters": {"error": len(findings), "warning": 0, "info": 0},
        "checked_anything": True,
        "rules_checked": ["WADO-RQ-001", "DRIM-002"],
        "findings": findings,
        "parts": [],
        "facts": {"kind": "request"},
    }


def fill(store: Store, count: int, studies: list[str]) -> None:
    """Bulk-insert `count` exchanges with one report each (and 1 in 50 file validations)."""
    tables = MetaData()
    tables.reflect(store.engine, only=["exchanges", "reports"])
    exchanges, reports = tables.tables["exchanges"], tables.tables["reports"]
    rng = random.Random(12)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    done = 0
    while done < count:
        rows, judged = [], []
        for n in range(done, min(count, done + BATCH)):
            when = start + step * n
            exchange_id = str(uuid.UUID(int=rng.getrandbits(128)))
            study = rng.choice(studies)
            origin = "file" if n % 50 == 0 else "server"
            target = f"/dicom-web/studies/{study}/series/1.2.3.{n}"
            verdict, status = rng.choice(VERDICTS), rng.choice(STATUSES)
            rows.append(
                {
                    "id": exchange_id,
                    "created_at": when,
                    "origin": origin,
                    "method": "GET",
                    "target": target,
                    "request_headers": [["Host", "localhost"], ["Accept", "multipart/related"]],
                    "request_body_path": None,
                    "status": status,
                    "response_headers": [["Content-Type", "multipart/related"]],
                    "response_body_path": None,
                    "parts": [],
                    "peer": {},
                    "timings": {"started_at": when.timestamp()},
                    "study_instance_uid": study,
                    "kos_sop_instance_uid": None,
                    "client_subject": rng.choice(CLIENTS),
                    "note": "",
                    "facts": {"method": "GET", "target": target, "origin": origin},
                }
            )
            judged.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "created_at": when + timedelta(milliseconds=5),
                    "exchange_id": exchange_id,
                    "kind": "request",
                    "subject": f"GET {target}",
                    "profile": "drim-m",
                    "verdict": verdict,
                    "study_instance_uid": study,
                    "kos_sop_instance_uid": None,
                    "data": _report(verdict, f"GET {target}", when),
                }
            )
        with store.engine.begin() as connection:
            connection.execute(insert(exchanges), rows)
            connection.execute(insert(reports), judged)
        done += len(rows)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def measure(client: TestClient, path: str, requests: int) -> tuple[float, float]:
    client.get(path)  # warm caches and the connection pool
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def pages(client: TestClient, store: Store, studies: list[str]) -> dict[str, str]:
    from drimlab.store.listings import page_exchanges

    deep = page_exchanges(store, limit=200)
    for _ in range(10):
        if deep.next_cursor is None:
            break
        deep = page_exchanges(store, before=deep.next_cursor, limit=200)
    cursor = deep.items[0].cursor.token() if deep.items else ""
    one = page_exchanges(store, limit=1).items[0].id
    return {
        "exchange list": "/server",
        "exchange list, filtered": f"/server?verdict=FAILED&status=404&exam={studies[0]}",
        "exchange list, page 11": f"/server?before={cursor}",
        "exchange page": f"/exchanges/{one}",
        "validation history": "/validate/history",
    }


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'drimlab.db'}"
        return
    with PostgresServer() as server:  # its own folder, readable by the postgres user
        yield server.url


def run(kind: str, count: int, requests: int, out: Callable[[str], None]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"drimlab-bench-{kind}-") as folder:
        workdir = Path(folder)
        with database(kind, workdir) as url:
            settings = Settings(home=workdir / "home", database_url=url)
            store = open_store(settings)
            try:
                link = SimulatorLink(base_url="https://localhost:1/dicom-web")
                portal = build_portal(store, settings, link, prepare_dataset=False)
                studies = [f"1.2.826.0.1.3680043.10.999.{n}" for n in range(20)]
                started = time.perf_counter()
                fill(store, count, studies)
                out(f"{kind}: {count} exchanges stored in {time.perf_counter() - started:.1f} s")
                results: dict[str, object] = {}
                with TestClient(create_app(portal)) as client:
                    for label, path in pages(client, store, studies).items():
                        p50, p95 = measure(client, path, requests)
                        results[label] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
                        out(f"  {label:<26} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
                return results
            finally:
                store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON too.")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    figures = {kind: run(kind, args.exchanges, args.requests, print) for kind in kinds}
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
