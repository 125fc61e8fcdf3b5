"""One writer at a time for a test PKI: an exclusive file lock beside its directory.

`drimlab pki issue|revoke|crl`, `whitelist sign|make` and the server simulator (which re-signs
the bench's CRL before its nextUpdate) may run at the same time on one home. Each change reads
the manifest, changes it and writes it back with the CRL; without a lock two revocations each
write a CRL holding only their own serial. The lock is `drimlab.locks.file_lock` on the PKI's
`.lock` file: re-entrant within a process, and `pki init --force`, which replaces the whole
directory (and so the lock file), is followed by a writer that waited on the old file. The PKI
lives in the home, which every worker of a PostgreSQL deployment shares (a shared file system
that honours POSIX locks, as NFSv4 does), so the same file lock serves SQLite homes and
PostgreSQL deployments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from drimlab.locks import file_lock


def lock_path(directory: Path) -> Path:
    """The lock file of the PKI at `directory`."""
    return directory / ".lock"


@contextmanager
def pki_lock(directory: Path) -> Iterator[None]:
    """Hold the PKI's exclusive lock for the block (waits for other writers)."""
    with file_lock(lock_path(directory.resolve())):
        yield


__all__ = ["lock_path", "pki_lock"]
