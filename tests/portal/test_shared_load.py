"""A reduced load on a shared environment of real processes (PostgreSQL, `drimlab serve`, two
portal/API workers, a task worker, nginx): vendors retrieve over mTLS with their own
certificates at once while users browse and submit validations through the API. Nothing
fails, and every exchange stored belongs to the organisation of the certificate that made it.
The full load, with its timings, is `bench/shared_load.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drimlab.testing.postgres import PostgresServer
from drimlab.testing.shared_load import LoadedEnvironment, LoadPlan

pytestmark = [pytest.mark.peer, pytest.mark.slow]

PLAN = LoadPlan(
    organisations=3, retrievals=2, browsers=2, submitters=2, pages_each=5, submissions_each=2
)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def test_a_reduced_load_has_no_error_and_no_misattributed_exchange(
    pg: PostgresServer, tmp_path: Path, reference_dir: Path
) -> None:
    body = (reference_dir / "wado-rs" / "request-series.txt").read_bytes()
    url = pg.create_database("load")
    with LoadedEnvironment(tmp_path, url, PLAN, body, portal_workers=2) as env:
        result = env.run()
    assert result.errors == []
    assert result.misattributed == []
    assert result.lost == 0 and result.exchanges == PLAN.organisations * PLAN.retrievals
    assert len(result.page_seconds) == PLAN.browsers * PLAN.pages_each
    assert len(result.api_seconds) == PLAN.submitters * PLAN.submissions_each
    logs = " ".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
    assert "Traceback" not in logs
