"""A database that goes down under the server simulator: announced, 503, nothing lost.

The recorder writes to a real PostgreSQL database that stops taking connections while the
simulator serves (its connections cut, new ones refused), then comes back.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest

from drimlab.config import Settings
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.recording import Recorder
from drimlab.simulators.runner import serve_in_thread
from drimlab.simulators.source import SourceConfig, make_app
from drimlab.store import open_store
from drimlab.store.journal import Journal, journal_dir
from drimlab.store.records import load_exchange
from drimlab.testing.postgres import PostgresServer
from drimlab.tokens import TokenVerifier
from drimlab.validation.findings import Severity
from tests.simulators.serving import Target, smallest_instance


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def _get(port: int, target: Target, path: str | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path or target.path, headers=target.headers())
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _until(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_database_down_is_announced_refused_with_503_and_stored_once_back(
    default_dataset_copy: Settings, postgres: PostgresServer
) -> None:
    database = "store_down"
    url = postgres.create_database(database)
    records = open_store(Settings(home=default_dataset_copy.home, database_url=url))
    catalogue = open_store(default_dataset_copy)
    target = smallest_instance(default_dataset_copy)
    messages: list[str] = []
    index = CatalogIndex(catalogue)
    journal = Journal(journal_dir(records))
    recorder = Recorder(records, index, journal=journal, notify=messages.append)
    issuer = target.issuer
    config = SourceConfig(verifier=TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url))
    served: list[str] = []
    try:
        with serve_in_thread(make_app(index, config, recorder)) as server:
            status, headers, _ = _get(server.port, target)
            assert status == 200
            served.append(headers["X-Request-ID"])
            assert recorder.wait_for(1, timeout=30)

            postgres.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            postgres.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{database}'"
            )
            status, headers, _ = _get(server.port, target)
            assert status == 200  # journaled: served; its store write is what fails
            served.append(headers["X-Request-ID"])
            _until(lambda: any("cannot be written" in m for m in messages))
            status, headers, body = _get(server.port, target)
            assert status == 503 and headers["Retry-After"]
            assert json.loads(body)["cause"] == "store-unavailable"
            status, _, body = _get(server.port, target, "/dicom-web")  # the health check
            assert status == 503 and json.loads(body)["cause"] == "store-unavailable"
            status, _, body = _get(server.port, target, "/drimlab/status")
            state = json.loads(body)
            assert state["writable"] is False and state["held"] >= 1

            postgres.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
            _until(lambda: any("written again" in m for m in messages))
            status, headers, _ = _get(server.port, target)
            assert status == 200
            served.append(headers["X-Request-ID"])
    finally:
        recorder.close()
    assert messages[0].startswith("drimlab: the store cannot be written (")
    refusals = [
        f
        for r in recorder.recorded
        for f in r.report.findings
        if f.rule == "REFUSAL-008" and "store-unavailable" in f.message
    ]
    assert refusals, "the 503 refusal is not judged by REFUSAL-008"
    assert refusals[0].severity is Severity.ERROR
    for exchange_id in served:
        assert load_exchange(records, exchange_id).status == 200
    assert not list(journal_dir(records).glob("*.journal"))  # all stored: journal gone
    records.close()
    catalogue.close()
