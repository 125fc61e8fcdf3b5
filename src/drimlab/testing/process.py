"""A child process owned by the bench: launched by hand, logged to a file, never left behind.

Real peers (Orthanc, nginx) run as children of the test or benchmark process. Two guards make
sure none outlives it: the kernel's parent-death signal (set with `setpriv --pdeathsig` before
the peer's own program starts, so even a SIGKILLed test run takes its peers down) and an
`atexit` reaper for the ordinary exit path.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from drimlab.errors import ConfigurationError

_LIVE: set[subprocess.Popen[bytes]] = set()


def _reap_all() -> None:
    for proc in list(_LIVE):
        _terminate(proc, grace=2.0)


atexit.register(_reap_all)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (the caller binds it soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_program(path_or_name: str, what: str) -> str:
    """The absolute path of an installed program, or a ConfigurationError naming the package."""
    found = shutil.which(path_or_name)
    if found is None:
        raise ConfigurationError(f"{what} is not installed ({path_or_name} not found)")
    return found


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=grace)
    _LIVE.discard(proc)


class ChildProcess:
    """One running peer program with its output in `log_path`."""

    def __init__(self, argv: Sequence[str], *, log_path: Path, cwd: Path) -> None:
        self.log_path = log_path
        prefix: list[str] = []
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            # The signal is tied to the thread that spawns the child: callers start peers from
            # the main thread (test fixtures, benchmarks), which lives as long as the process.
            prefix = [setpriv, "--pdeathsig", "TERM", "--"]
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [*prefix, *argv],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _LIVE.add(self._proc)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    def log_text(self, limit: int = 20_000) -> str:
        """The last `limit` characters of the peer's log (for a failing test to print)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:]

    def wait_until(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll `ready()` until true; a ConfigurationError with the log tail if the peer dies."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise ConfigurationError(
                    f"{what} exited with status {self.returncode} before it was ready; "
                    f"log {self.log_path}: {self.log_text(600)!r}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError(
                    f"{what} was not ready after {timeout:.0f} s; log {self.log_path}"
                )
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; idempotent."""
        _terminate(self._proc, grace)


def port_accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
