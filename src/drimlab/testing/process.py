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
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

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


class ManagedPeer:
    """A peer program run in a folder of its own on a free port; a context manager.

    Subclasses say how to check the installation (`_program_path`) and how to launch on a
    given port and wait until ready (`_launch`, raising ConfigurationError on failure).
    `start()` retries on another port, since another process may take the free port between
    our probe and the peer's bind.
    """

    name = "peer"
    attempts = 3

    def __init__(self, workdir: Path | None, startup_timeout: float) -> None:
        self._given_workdir = Path(workdir) if workdir is not None else None
        self._startup_timeout = startup_timeout
        self._workdir: Path | None = None
        self._process: ChildProcess | None = None
        self._port = 0

    def _program_path(self) -> str:
        raise NotImplementedError

    def _launch(self, program: str, port: int) -> ChildProcess:
        raise NotImplementedError

    def start(self) -> Self:
        """Launch the peer and wait until it is ready (ConfigurationError if it never is)."""
        if self._process is not None:
            return self
        program = self._program_path()
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            self._workdir = self._given_workdir
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"drimlab-{self.name.lower()}-"))
        error: ConfigurationError | None = None
        for _ in range(self.attempts):
            self._port = free_port()
            try:
                self._process = self._launch(program, self._port)
            except ConfigurationError as exc:
                error = exc
                continue
            return self
        self._cleanup_dir()
        assert error is not None
        raise error

    def stop(self) -> None:
        """Stop the peer; remove its folder unless the caller gave it."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._cleanup_dir()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise ConfigurationError(f"{self.name} is not started")
        return self._workdir

    def _require_running(self) -> ChildProcess:
        if self._process is None:
            raise ConfigurationError(f"{self.name} is not started")
        return self._process

    @property
    def port(self) -> int:
        self._require_running()
        return self._port

    @property
    def pid(self) -> int:
        return self._require_running().pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def _cleanup_dir(self) -> None:
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
