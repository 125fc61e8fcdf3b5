"""One writer at a time across processes: exclusive file locks, re-entrant within a process.

Every writer of shared state in a home takes one: the PKI (`trust.pki_lock`), the datasets and
their staging area (`store.Store.lock`, which adds a PostgreSQL advisory lock when the store is
PostgreSQL), the bench environment's first preparation. The lock is a POSIX `flock` on a file:
the kernel releases it when its holder dies, even by SIGKILL, so a killed command never leaves
a lock behind, and whoever takes the lock next may sweep what the dead one left.

A lock file may be replaced while a process waits on it (`pki init --force` swaps the whole
directory): once the lock is held, the path is checked to still name the locked file, else the
new file is locked instead. Locks are re-entrant within a process (a change may call another
under the same lock): `flock` locks belong to an open file, and a second open in the same
process would wait for the first forever.

    with file_lock(home / ".datasets.lock"):
        ...
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_GUARD = threading.Lock()
_HELD: dict[object, tuple[threading.RLock, list[int]]] = {}

Release = Callable[[], None]


@contextmanager
def reentrant(key: object, acquire: Callable[[], Release]) -> Iterator[None]:
    """Hold a process-wide lock named `key` for the block: `acquire()` on first entry only
    (it waits for other processes and returns how to release); nested entries just count."""
    with _GUARD:
        local, depth = _HELD.setdefault(key, (threading.RLock(), [0]))
    with local:
        if depth[0]:
            depth[0] += 1
            try:
                yield
            finally:
                depth[0] -= 1
            return
        release = acquire()
        depth[0] = 1
        try:
            yield
        finally:
            depth[0] = 0
            release()


def _open_locked(path: Path, *, wait: bool) -> int | None:
    """An open descriptor of `path`, exclusively locked, still the file the path names."""
    while True:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino == os.fstat(fd).st_ino:
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was replaced while we waited: lock the new one


def _unlock(fd: int) -> Release:
    def release() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    return release


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of the file at `path` for the block (waits for other holders)."""
    resolved = path.resolve()

    def acquire() -> Release:
        fd = _open_locked(resolved, wait=True)
        assert fd is not None  # a waiting lock always ends locked
        return _unlock(fd)

    with reentrant(("file", resolved), acquire):
        yield


def hold_file_lock(path: Path) -> Release | None:
    """Take the lock of `path` now if nobody holds it: how to release it, or None.

    Used to mark something as owned by a live process (a staging folder): whoever later gets
    this lock knows its owner is gone.
    """
    fd = _open_locked(path, wait=False)
    return None if fd is None else _unlock(fd)


__all__ = ["Release", "file_lock", "hold_file_lock", "reentrant"]
