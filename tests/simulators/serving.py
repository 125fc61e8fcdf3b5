"""`drimlab serve` as a real process under load: 50 consumers over loopback, what they got."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drimlab.config import Settings
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.runner import free_port
from drimlab.store import open_store
from drimlab.tokens import TokenIssuer

DRIMLAB = str(Path(sys.executable).with_name("drimlab"))
EVRLE = "1.2.840.10008.1.2.1"


class ServingProcess:
    """A `drimlab serve` process; its output (stdout and stderr) read as it comes."""

    def __init__(self, command: Sequence[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            list(command),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never printed; output so far:\n{self.output}")

    def finish(self, timeout: float = 90) -> int:
        code = self.process.wait(timeout)
        self._reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        if self.process.stdout is not None and not self.process.stdout.closed:
            self.finish(30)


@dataclass(frozen=True)
class Target:
    """One small instance retrieve and the headers a DRIM-M consumer sends with it."""

    path: str
    kos_uid: str
    issuer: TokenIssuer

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.issuer.issue()}",
            "KOS-SOPInstanceUID": self.kos_uid,
            "Accept": f'multipart/related; type="application/dicom"; transfer-syntax={EVRLE}',
        }


def smallest_instance(settings: Settings) -> Target:
    """The smallest instance of the catalogue (fast answers: many per second under load)."""
    store = open_store(settings)
    try:
        index = CatalogIndex(store)
        candidates = []
        for exam in index.snapshot.exams.values():
            if exam.kos is None:
                continue
            for series in index.series_of(exam.study_instance_uid):
                for instance in series.instances:
                    stored = instance.file(EVRLE)
                    if stored is not None:
                        candidates.append((stored.size, exam.kos.sop_instance_uid, instance))
        _, kos_uid, instance = min(candidates, key=lambda c: c[0])
    finally:
        store.close()
    path = (
        f"/dicom-web/studies/{instance.study_instance_uid}/series/"
        f"{instance.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )
    return Target(path, kos_uid, TokenIssuer.open(settings))


def serve(home: Path, port: int, *extra: str) -> ServingProcess:
    env = {**os.environ, "DRIMLAB_HOME": str(home)}
    env.pop("DRIMLAB_DATABASE_URL", None)
    command = [DRIMLAB, "serve", "--insecure-http", "--crl-port", "0", "--port", str(port)]
    return ServingProcess([*command, *extra], env)


@dataclass
class Load:
    """`consumers` threads retrieving `target` over keep-alive connections until stopped.

    `served` holds the X-Request-ID of every 200 received whole (every byte the
    Content-Length announced); `statuses` counts every answer by status.
    """

    port: int
    target: Target
    consumers: int = 50
    served: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    refusals: list[dict[str, object]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        headers = [self.target.headers() for _ in range(self.consumers)]
        for i in range(self.consumers):
            thread = threading.Thread(target=self._consume, args=(headers[i],), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _consume(self, headers: dict[str, str]) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                connection.request("GET", self.target.path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                self._answered(response, body)
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.02)  # the server is gone or refusing connections
        if connection is not None:
            connection.close()

    def _answered(self, response: http.client.HTTPResponse, body: bytes) -> None:
        length = response.getheader("Content-Length")
        whole = length is None or int(length) == len(body)
        with self._lock:
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            if response.status == 200 and whole:
                self.served.append(str(response.getheader("X-Request-ID")))
            elif response.status == 503:
                refusal = json.loads(body)
                refusal["retry_after"] = response.getheader("Retry-After")
                self.refusals.append(refusal)

    def wait_served(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.served) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.served) >= count, f"only {len(self.served)} served: {self.statuses}"

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def stopped_count(output: str) -> int:
    found = re.search(r"stopped: (\d+) exchanges recorded", output)
    assert found, output
    return int(found.group(1))


def stored(database: Path) -> dict[str, int | None]:
    """The server-side exchanges of a store: id -> status."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT id, status FROM exchanges WHERE origin = 'server'")
        return {str(i): s for i, s in rows}


def stop_with(serving: ServingProcess, sig: signal.Signals) -> int:
    serving.process.send_signal(sig)
    return serving.finish()


__all__ = ["Load", "ServingProcess", "free_port", "serve", "smallest_instance", "stored"]
