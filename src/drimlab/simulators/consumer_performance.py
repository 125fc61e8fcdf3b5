"""Latency and throughput of repeated, concurrent retrievals (DRIM-M performance categories).

`measure` runs the planned requests `repeat` times over `concurrency` connections, each
retrieval validated like a single one and stored; the summary (time to first byte, total
time and throughput percentiles) is a report of its own, kind `performance`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from drimlab.simulators.consumer_http import TransportError
from drimlab.simulators.consumer_http import open_response as open_http
from drimlab.store import Store
from drimlab.store.records import save_report
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.report import Report
from drimlab.validation.rulesets import probe as rules

if TYPE_CHECKING:
    from drimlab.documents.kos import Kos
    from drimlab.simulators.consumer import (
        ClientTrust,
        RetrievalRecord,
        RetrieveOptions,
        RetrieveResult,
    )
    from drimlab.simulators.consumer_http import HttpRequest

PERCENTILES = (50, 90, 95, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile by linear interpolation between closest ranks (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(samples: Sequence[float]) -> dict[str, float]:
    """min, percentiles, max and mean of the samples."""
    out = {f"p{p}": percentile(samples, p) for p in PERCENTILES}
    out["min"] = min(samples) if samples else 0.0
    out["max"] = max(samples) if samples else 0.0
    out["mean"] = sum(samples) / len(samples) if samples else 0.0
    return out


def performance_facts(records: Sequence[RetrievalRecord], wall_seconds: float) -> dict[str, Any]:
    """Percentiles of time to first byte, total time and throughput over the retrievals."""
    timings = [r.report.facts.get("timings", {}) for r in records]
    ok = [t for t, r in zip(timings, records, strict=True) if r.status in (200, 206)]
    body = sum(float(t.get("body_bytes", 0.0)) for t in ok)
    return {
        "retrievals": len(records),
        "successful": len(ok),
        "wall_seconds": wall_seconds,
        "bytes": body,
        "aggregate_bytes_per_second": body / wall_seconds if wall_seconds > 0 else 0.0,
        "time_to_first_byte_seconds": summarise([t["time_to_first_byte"] for t in ok]),
        "total_seconds": summarise([t["total"] for t in ok]),
        "throughput_bytes_per_second": summarise([t["throughput_bytes_per_second"] for t in ok]),
    }


def measure(
    store: Store,
    requests: Sequence[HttpRequest],
    trust: ClientTrust,
    kos: Kos | None,
    options: RetrieveOptions,
) -> RetrieveResult:
    """Run the requests `repeat` times, `concurrency` at once; store all and a summary."""
    from drimlab.simulators.consumer import (  # noqa: PLC0415 - consumer imports this module
        RetrieveResult,
        exchange_once,
        overall,
        store_outcome,
    )

    work = [r for _ in range(options.repeat) for r in requests]

    def one(request: HttpRequest) -> RetrievalRecord:
        outcome = exchange_once(
            request, trust, kos=kos, profile=options.profile, timeout=options.timeout
        )
        return store_outcome(store, outcome, note="performance")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        records = tuple(pool.map(one, work))
    wall = time.perf_counter() - started
    facts = performance_facts(records, wall)
    facts.update(
        {"kind": "performance", "repeat": options.repeat, "concurrency": options.concurrency}
    )
    summary = Report(
        subject=f"performance: {len(requests)} request(s) x {options.repeat}, "
        f"concurrency {options.concurrency}",
        profile=options.profile,
        findings=tuple(f for r in records for f in r.report.findings),
        rules_checked=tuple(dict.fromkeys(c for r in records for c in r.report.rules_checked)),
        facts=facts,
    )
    save_report(store, summary, kind="performance")
    return RetrieveResult(records, overall(records), performance=facts)


def run_burst(
    request: HttpRequest, trust: ClientTrust, burst: int, concurrency: int, timeout: float
) -> tuple[dict[str, Any], list[Finding]]:
    def one(_: int) -> tuple[int | None, float, float, bool, str]:
        started = time.perf_counter()
        try:
            with open_http(request, trust.context, timeout=timeout) as stream:
                size = sum(len(p) for p in stream.body())
                del size
                total = time.perf_counter() - started
                complete = stream.complete and not stream.problems
                return stream.head.status, stream.first_byte_seconds, total, complete, ""
        except TransportError as exc:
            return None, 0.0, time.perf_counter() - started, False, str(exc)

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(burst)))
    wall = time.perf_counter() - wall
    findings: list[Finding] = []
    where = Location(path="probe: burst")
    ok = [r for r in results if r[0] == 200 and r[3]]
    busy = [r for r in results if r[0] == 503]
    failed = [r for r in results if r not in ok and r not in busy]
    if failed:
        shown = ", ".join(sorted({str(r[0]) if r[0] else (r[4] or "dropped") for r in failed}))
        findings.append(
            rules.BURST.finding(
                f"{len(failed)} of {burst} concurrent retrievals failed or were cut ({shown})",
                where,
                expected="200 with a complete body",
                actual=shown[:200],
            )
        )
    if busy:
        findings.append(
            rules.BURST.finding(
                f"{len(busy)} of {burst} concurrent retrievals got 503",
                where,
                severity=Severity.WARNING,
                actual="503",
            )
        )
    facts = {
        "requests": burst,
        "concurrency": concurrency,
        "ok": len(ok),
        "busy": len(busy),
        "failed": len(failed),
        "wall_seconds": wall,
        "time_to_first_byte_seconds": summarise([r[1] for r in ok]),
        "total_seconds": summarise([r[2] for r in ok]),
    }
    return facts, findings
