"""A full disk under the server simulator: a live message, 503s, nothing half-written.

The simulator's home is on a small tmpfs of its own (a user and mount namespace, so no
privilege is needed and nothing outlives the test); the test fills that file system for
real while the simulator serves, then frees it.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.simulators.runner import free_port
from tests.simulators.serving import DRIMLAB, ServingProcess, Target, smallest_instance, stored

SCRIPT = """
set -e
mount -t tmpfs -o "size=${SIZE}k,mode=0700" tmpfs "$MNT"
cp -a "$SRC" "$MNT/home"
set +e
DRIMLAB_HOME="$MNT/home" "$DRIMLAB" serve --insecure-http --crl-port 0 --port "$PORT"
code=$?
cp -a "$MNT/home/drimlab.db" "$MNT/home/journal" "$OUT/"
cp -a "$MNT"/home/drimlab.db-* "$OUT/" 2>/dev/null
exit $code
"""


def _namespaces_available() -> bool:
    try:
        probe = subprocess.run(
            ["unshare", "-rm", "true"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _size_kib(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) // 1024


def _child_of(pid: int, timeout: float = 60) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = children.read_text().split()
        if found:
            return int(found[0])
        time.sleep(0.05)
    raise AssertionError("the simulator never started")


def _fill(folder: Path) -> Path:
    """Write a file until the file system refuses (ENOSPC), in ever smaller chunks."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        for chunk in (1024 * 1024, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def _get(port: int, target: Target, path: str | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path or target.path, headers=target.headers())
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.skipif(not _namespaces_available(), reason="no user+mount namespaces (unshare -rm)")
def test_a_full_disk_is_announced_refused_with_503_and_nothing_is_half_written(
    default_dataset_copy: Settings, tmp_path: Path
) -> None:
    home = default_dataset_copy.home
    target = smallest_instance(default_dataset_copy)
    before = stored(home / "drimlab.db")
    mount, out = tmp_path / "disk", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "SIZE": str(_size_kib(home) + 8 * 1024),
        "MNT": str(mount),
        "SRC": str(home),
        "OUT": str(out),
        "PORT": str(port),
        "DRIMLAB": DRIMLAB,
    }
    shell = ServingProcess(["unshare", "-rm", "sh", "-c", SCRIPT], env)
    served: list[str] = []
    try:
        shell.wait_for("serving")
        simulator = _child_of(shell.process.pid)
        disk = Path(f"/proc/{simulator}/root") / str(mount).lstrip("/")
        for _ in range(10):
            status, headers, _body = _get(port, target)
            assert status == 200
            served.append(headers["X-Request-ID"])

        filler = _fill(disk)
        refused: dict[str, object] | None = None
        for _ in range(500):
            status, headers, body = _get(port, target)
            if status == 200:
                served.append(headers["X-Request-ID"])  # journaled before the disk was full
                continue
            assert status == 503, body
            refused = {**json.loads(body), "retry_after": headers.get("Retry-After")}
            break
        assert refused is not None, "the simulator kept serving on a full disk"
        assert refused["cause"] == "store-unavailable"
        assert refused["retry_after"]
        shell.wait_for("drimlab: the store cannot be written", timeout=5)  # at once
        status, _, body = _get(port, target, "/drimlab/status")
        assert status == 200 and json.loads(body)["writable"] is False
        for journal in (disk / "home" / "journal").glob("*.journal"):
            data = journal.read_bytes()
            assert data.endswith(b"\n")  # never half a line
            for line in data.splitlines():
                json.loads(line)
        assert not list((disk / "home" / "bodies").glob(".incoming-*"))

        filler.unlink()
        shell.wait_for("drimlab: the store can be written again", timeout=15)
        status, headers, _ = _get(port, target)
        assert status == 200
        served.append(headers["X-Request-ID"])
        os.kill(simulator, signal.SIGINT)
        assert shell.finish() == 0, shell.output
    finally:
        shell.kill()

    database = out / "drimlab.db"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = conn.execute(
            "SELECT count(*) FROM exchanges e WHERE e.origin = 'server' AND NOT EXISTS "
            "(SELECT 1 FROM reports r WHERE r.exchange_id = e.id)"
        ).fetchone()[0]
        causes = [
            json.loads(facts).get("decision", {}).get("cause")
            for (facts,) in conn.execute("SELECT facts FROM exchanges WHERE origin = 'server'")
        ]
    assert orphans == 0  # an exchange is stored with its report or not at all
    after = stored(database)
    assert [i for i in served if i not in after] == []
    assert "store-unavailable" in causes  # the refusals themselves are recorded
    new = len(after) - len(before)
    assert f"stopped: {new} exchanges recorded" in shell.output
    shutil.rmtree(out)
