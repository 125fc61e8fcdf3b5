"""Reading what a drimlab process started by a test prints."""

from __future__ import annotations

import subprocess
import time


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 120) -> str:
    """What the process printed up to the first line holding `marker` (AssertionError, with
    the output so far, when it ends or `timeout` passes first)."""
    seen = ""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never printed; output so far:\n{seen}")
