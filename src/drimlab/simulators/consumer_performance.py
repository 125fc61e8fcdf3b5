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

from drimlab.facts.probe import BurstAttempt, BurstOutcome
from drimlab.simulators.consumer_http import HttpRequest, TransportError
from drimlab.simulators.consumer_http import open_response as open_http
from drimlab.simulators.retrieval import (
    ClientTrust,
    RetrievalRecord,
    RetrieveOptions,
    RetrieveResult,
    exchange_once,
    overall,
    store_outcome,
)
from drimlab.store import Store
from drimlab.store.records import save_report
from drimlab.validation.assess import combine

if TYPE_CHECKING:
    from drimlab.documents.kos import Kos

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
    timings = [r.timings for r in records]
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
    work = [r for _ in range(options.repeat) for r in requests]

    def one(request: HttpRequest) -> RetrievalRecord:
        outcome = exchange_once(
            request, trust, kos=kos, selection=options.chosen, timeout=options.timeout
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
    summary = combine(
        f"performance: {len(requests)} request(s) x {options.repeat}, "
        f"concurrency {options.concurrency}",
        [r.report for r in records],
        options.chosen,
        kind="performance",
        facts=facts,
    )
    save_report(store, summary, kind="performance")
    return RetrieveResult(records, overall(records), performance=facts)


def run_burst(
    request: HttpRequest, trust: ClientTrust, burst: int, concurrency: int, timeout: float
) -> BurstOutcome:
    """Send `burst` identical retrievals over `concurrency` connections at once; their outcomes."""

    def one(_: int) -> BurstAttempt:
        started = time.perf_counter()
        try:
            with open_http(request, trust.context, timeout=timeout) as stream:
                for _piece in stream.body():
                    pass
                return BurstAttempt(
                    status=stream.head.status,
                    complete=stream.complete and not stream.problems,
                    time_to_first_byte=stream.first_byte_seconds,
                    total=time.perf_counter() - started,
                )
        except TransportError as exc:
            return BurstAttempt(
                None, False, error=str(exc)[:200], total=time.perf_counter() - started
            )

    wall = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        attempts = tuple(pool.map(one, range(burst)))
    return BurstOutcome(request.url, concurrency, attempts, time.perf_counter() - wall)


def burst_summary(burst: BurstOutcome) -> dict[str, Any]:
    """The burst's counts and latency percentiles, for the probe report's facts."""
    ok = [a for a in burst.attempts if a.status == 200 and a.complete]
    busy = [a for a in burst.attempts if a.status == 503]
    return {
        "requests": len(burst.attempts),
        "concurrency": burst.concurrency,
        "ok": len(ok),
        "busy": len(busy),
        "failed": len(burst.attempts) - len(ok) - len(busy),
        "wall_seconds": burst.wall_seconds,
        "time_to_first_byte_seconds": summarise([a.time_to_first_byte for a in ok]),
        "total_seconds": summarise([a.total for a in ok]),
    }
