"""Worker processes that never outlive the command that started them.

A dataset generation encodes on a pool of worker processes. When its command is killed
(SIGKILL leaves no chance to clean up), the workers would wait on their task queue for ever.
Each worker asks Linux to send it SIGKILL when its parent dies (`PR_SET_PDEATHSIG`), and on
every platform watches its parent's pid once a second as well.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this process as soon as `parent` (the command) is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


__all__ = ["die_with_parent"]
