"""`Store.lock`: one writer at a time across processes, on SQLite homes and on PostgreSQL.

With PostgreSQL, two processes with different homes (two hosts of a deployment) share only the
database: the advisory lock must still keep them in turn.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drimlab.testing.postgres import PostgresServer

HOLDER = """
import sys
from drimlab.config import Settings
from drimlab.store import open_store
store = open_store(Settings.from_env())
with store.lock("datasets"):
    print("held", flush=True)
    sys.stdin.readline()
store.close()
print("released", flush=True)
"""


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def _holder(home: Path, url: str | None) -> subprocess.Popen[str]:
    env = {**os.environ, "DRIMLAB_HOME": str(home)}
    env.pop("DRIMLAB_DATABASE_URL", None)
    if url is not None:
        env["DRIMLAB_DATABASE_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def _release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()


def _take_turns(home_a: Path, home_b: Path, url: str | None) -> None:
    first = _holder(home_a, url)
    second: subprocess.Popen[str] | None = None
    try:
        assert _line(first) == "held"
        second = _holder(home_b, url)
        assert second.stdout is not None
        # a second and a half: time enough for the second to take the lock, were it free
        ready, _, _ = select.select([second.stdout], [], [], 1.5)
        assert not ready, "the second holder got the lock too"
        _release(first)
        assert _line(first) == "released"
        assert _line(second) == "held"
        _release(second)
        assert second.wait(60) == 0
        assert first.wait(60) == 0
    finally:
        for process in (first, second):
            if process is None:
                continue
            if process.poll() is None:
                process.kill()
                process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()


def test_two_processes_of_one_sqlite_home_take_turns(tmp_path: Path) -> None:
    _take_turns(tmp_path / "home", tmp_path / "home", None)


def test_two_hosts_of_one_postgresql_store_take_turns(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    url = pg_server.create_database("lock_test")
    # two homes: no file lock in common, only the database
    _take_turns(tmp_path / "host-a", tmp_path / "host-b", url)
