"""One writer at a time for a test PKI: an exclusive file lock beside its directory.

`drimlab pki issue|revoke|crl`, `whitelist sign|make` and the server simulator (which re-signs
the bench's CRL before its nextUpdate) may run at the same time on one home. Each change reads
the manifest, changes it and writes it back with the CRL; without a lock two revocations each
write a CRL holding only their own serial. The lock is a POSIX file lock (`flock`) on the
PKI's `.lock` file. `pki init --force` replaces the whole directory (and so the lock file):
a writer that waited on the old lock file sees, once it holds it, that the path now names
another file, and takes the new one instead. The PKI lives in the home, which every worker of
a PostgreSQL deployment shares (a shared file system that honours POSIX locks, as NFSv4
does), so the same file lock serves SQLite homes and PostgreSQL deployments.

The lock is re-entrant within a process (a change may call another under the same lock):
`flock` locks belong to an open file, and a second open in the same process would wait for
the first forever.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_GUARD = threading.Lock()
_HELD: dict[Path, tuple[threading.RLock, list[int]]] = {}


def lock_path(directory: Path) -> Path:
    """The lock file of the PKI at `directory`."""
    return directory / ".lock"


def _acquire(path: Path) -> int:
    """An open descriptor of `path`, exclusively locked, still the file the path names."""
    while True:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino == os.fstat(fd).st_ino:
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the directory was replaced while we waited: lock the new one


@contextmanager
def pki_lock(directory: Path) -> Iterator[None]:
    """Hold the PKI's exclusive lock for the block (waits for other writers)."""
    path = lock_path(directory.resolve())
    with _GUARD:
        local, depth = _HELD.setdefault(path, (threading.RLock(), [0]))
    with local:
        if depth[0]:
            depth[0] += 1
            try:
                yield
            finally:
                depth[0] -= 1
            return
        fd = _acquire(path)
        try:
            depth[0] = 1
            try:
                yield
            finally:
                depth[0] = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


__all__ = ["lock_path", "pki_lock"]
