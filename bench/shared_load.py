"""Benchmark: a bounded load on a shared environment of real processes, 1 then 2 portal workers.

    python bench/shared_load.py                     # 20 vendors x 5 retrievals, 10 + 5 users
    python bench/shared_load.py --organisations 5   # a lighter run

On loopback, for each number of portal/API workers (1, then 2) behind nginx: a private
PostgreSQL database, `drimlab serve`, the workers (`drimlab portal --accounts
--task-queue`), one `drimlab worker`, nginx (`drimlab.testing.shared_load`). Each vendor
organisation has its own client certificate from the test PKI; at once, every vendor makes
`--retrievals` concurrent series retrievals over mTLS, `--browsers` logged-in users read
`--pages` portal pages each and `--submitters` post `--submissions` validations each through
the API (with a GET of the report). Printed: errors, lost and misattributed exchanges (each
stored exchange's organisation against the certificate that made it; all must be 0), p50 and
p95 latency of pages, API calls and retrievals in ms, requests per second over the run, and
the ratios of 2 workers to 1. Exits 1 when any error or misattributed exchange is seen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from drimlab.testing.postgres import PostgresServer
from drimlab.testing.shared_load import LoadedEnvironment, LoadPlan, LoadResult, percentile

REQUEST = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ans" / "wado-rs"


def _figures(result: LoadResult) -> dict[str, Any]:
    return {
        "errors": len(result.errors),
        "lost": result.lost,
        "misattributed": len(result.misattributed),
        "exchanges": result.exchanges,
        "page_p50_ms": percentile(result.page_seconds, 0.5) * 1000,
        "page_p95_ms": percentile(result.page_seconds, 0.95) * 1000,
        "api_p50_ms": percentile(result.api_seconds, 0.5) * 1000,
        "api_p95_ms": percentile(result.api_seconds, 0.95) * 1000,
        "retrieval_p95_ms": percentile(result.retrieval_seconds, 0.95) * 1000,
        "requests": result.requests,
        "wall_s": result.wall_seconds,
        "requests_per_s": result.requests / result.wall_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisations", type=int, default=20)
    parser.add_argument("--retrievals", type=int, default=5)
    parser.add_argument("--browsers", type=int, default=10)
    parser.add_argument("--submitters", type=int, default=5)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--submissions", type=int, default=8)
    args = parser.parse_args()
    plan = LoadPlan(
        organisations=args.organisations,
        retrievals=args.retrievals,
        browsers=args.browsers,
        submitters=args.submitters,
        pages_each=args.pages,
        submissions_each=args.submissions,
    )
    body = (REQUEST / "request-series.txt").read_bytes()
    load_before = os.getloadavg()[0]
    runs: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, PostgresServer() as pg:
        for workers in (1, 2):
            workdir = Path(tmp) / f"workers-{workers}"
            workdir.mkdir()
            url = pg.create_database(f"load{workers}")
            with LoadedEnvironment(workdir, url, plan, body, portal_workers=workers) as env:
                result = env.run()
            runs[f"{workers}_workers"] = _figures(result)
            problems += result.errors[:5] + result.misattributed[:5]
    one, two = runs["1_workers"], runs["2_workers"]
    ratios = {
        f"ratio_2_to_1_{key}": two[key] / one[key] if one[key] else 0.0
        for key in ("page_p95_ms", "api_p95_ms", "requests_per_s")
    }
    rounded = {
        name: {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
        for name, figures in runs.items()
    }
    print(json.dumps({**rounded, **{k: round(v, 2) for k, v in ratios.items()}}, indent=2))
    print(
        f"cores: {os.cpu_count()}, load average before: {load_before:.2f}, after: "
        f"{os.getloadavg()[0]:.2f}, plan: {plan}",
        file=sys.stderr,
    )
    for problem in problems:
        print(problem, file=sys.stderr)
    failed = any(r["errors"] or r["misattributed"] or r["lost"] for r in runs.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
