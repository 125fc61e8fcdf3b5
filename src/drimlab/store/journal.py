"""The journal of a server simulator: what it served, on disk before its answer is sent.

The store is written after each response, by worker threads; a simulator that stops (Ctrl-C,
SIGTERM, `kill -9`, a crash) or whose store cannot be written must not lose what it served.
Each simulator process appends to its own journal under `$DRIMLAB_HOME/journal/`, one JSON
object a line:

- `begin` — the request as received, written *before* the answer is sent;
- `end` — the whole exchange once the answer is sent (or cut short);
- `stored` — the exchange is in the store (with its report).

An append is one `write(2)` to a file opened `O_APPEND`: the bytes are in the kernel's page
cache when it returns, so they survive the death of the process (`kill -9`); `sync` (called
every second or so) makes them survive a power cut too. A short write (a full disk) is cut
back, so a journal never holds half a line. The process holds an exclusive `flock` on its
journal for as long as it runs; `leftover_journals` yields the journals nobody holds (their
writer is gone), for `recover` to store what they hold: ended exchanges whole, begun ones as
incomplete. A journal whose exchanges are all stored is deleted; the journal grows in
segments of `SEGMENT_BYTES`, each deleted once all its exchanges are stored.

Journals hold what the store will hold (request headers included), with the same 0600 file
and 0700 directory modes as the rest of the home's private files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from drimlab.errors import StoreError
from drimlab.store.db import Store
from drimlab.store.models import ExchangeRecord

SEGMENT_BYTES = 16 * 1024 * 1024
PROBE_BYTES = 64 * 1024  # what a write must fit for the journal to count as writable again
SUFFIX = ".journal"


class JournalError(StoreError):
    """The journal cannot be written (a full disk, a read-only or missing home)."""


@dataclass(frozen=True)
class JournalEntry:
    """What a journal says about one exchange."""

    id: str
    exchange: dict[str, Any]
    ended: bool
    stored: bool


def journal_dir(store: Store) -> Path:
    return store.settings.home / "journal"


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode("ascii") + b"\n"


class Journal:
    """This process's journal: append `begin`/`end`/`stored`, thread-safe."""

    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._pending: dict[Path, set[str]] = {}  # ids not stored yet, per segment
        self._fds: dict[Path, int] = {}  # every segment stays open (and locked) until done
        self._segment_of: dict[str, Path] = {}
        self._dirty = False
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._fd, self.path = self._new_segment()
        except OSError as exc:
            raise JournalError(f"cannot create a journal in {directory}: {exc.strerror}") from exc

    def _new_segment(self) -> tuple[int, Path]:
        name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}-{secrets.token_hex(4)}"
        path = self.directory / f"{name}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._pending[path] = set()
        self._fds[path] = fd
        return fd, path

    # -- writing -----------------------------------------------------------------------------

    def begin(self, entry_id: str, exchange: dict[str, Any]) -> None:
        """Journal a request before its answer is sent."""
        self._append({"op": "begin", "id": entry_id, "exchange": exchange}, entry_id)

    def end(self, entry_id: str, exchange: dict[str, Any]) -> None:
        """Journal the whole exchange once its answer is sent (or cut short)."""
        self._append({"op": "end", "id": entry_id, "exchange": exchange}, entry_id)

    def stored(self, entry_id: str) -> None:
        """The exchange is in the store: it needs no recovery."""
        with self._lock:
            segment = self._segment_of.pop(entry_id, None)
            if segment is None:
                return
            self._pending[segment].discard(entry_id)
            # recovery checks the store before storing again: a lost marker loses nothing
            with contextlib.suppress(JournalError):
                self._write(segment, _line({"op": "stored", "id": entry_id}))
            self._forget_finished_segments()

    def _append(self, record: dict[str, Any], entry_id: str) -> None:
        data = _line(record)
        with self._lock:
            segment = self._segment_of.get(entry_id, self.path)
            self._write(segment, data)
            self._pending[segment].add(entry_id)
            self._segment_of[entry_id] = segment
            if segment == self.path and os.fstat(self._fd).st_size > self.segment_bytes:
                self._rotate()

    def _write(self, segment: Path, data: bytes) -> None:
        """Append one whole line to `segment`, or nothing at all."""
        fd = self._fds.get(segment)
        if fd is None:
            raise JournalError(f"the journal {segment} is closed")
        try:
            size = os.fstat(fd).st_size
        except OSError as exc:
            raise JournalError(f"cannot write the journal {segment}: {exc.strerror}") from exc
        try:
            written = os.write(fd, data)
        except OSError as exc:
            self._cut(fd, size)
            raise JournalError(f"cannot write the journal {segment}: {exc.strerror}") from exc
        if written != len(data):
            self._cut(fd, size)
            raise JournalError(f"cannot write the journal {segment}: the disk is full")
        self._dirty = True

    @staticmethod
    def _cut(fd: int, size: int) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)

    def _rotate(self) -> None:
        try:
            self._fd, self.path = self._new_segment()
        except OSError:
            return  # keep appending to the current segment
        self._forget_finished_segments()

    def _forget_finished_segments(self) -> None:
        for segment, ids in list(self._pending.items()):
            if segment != self.path and not ids:
                segment.unlink(missing_ok=True)
                os.close(self._fds.pop(segment))
                del self._pending[segment]

    def probe(self) -> None:
        """JournalError while the journal cannot take `PROBE_BYTES` more; leaves nothing.

        A probe as long as a few exchanges, so that the slack of a last page on a full disk
        does not pass for free space; it is cut back at once.
        """
        line = _line({"op": "probe", "id": "", "pad": " " * PROBE_BYTES})
        with self._lock:
            fd = self._fds.get(self.path)
            if fd is None:
                raise JournalError(f"the journal {self.path} is closed")
            try:
                size = os.fstat(fd).st_size
            except OSError as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc.strerror}") from exc
            self._write(self.path, line)
            self._cut(fd, size)

    # -- the rest ----------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Exchanges journaled but not stored yet."""
        with self._lock:
            return len(self._segment_of)

    def holds(self, entry_id: str) -> bool:
        """Whether `entry_id` is journaled and not stored yet (recovery would store it)."""
        with self._lock:
            return entry_id in self._segment_of

    def sync(self) -> None:
        """Make what was appended survive a power cut (fsync); cheap when nothing changed."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            fd = self._fd
        with contextlib.suppress(OSError):
            os.fsync(fd)

    def close(self) -> None:
        """Release the journal; delete it when every exchange it holds is stored."""
        with self._lock:
            for segment, ids in list(self._pending.items()):
                if not ids:
                    segment.unlink(missing_ok=True)
                os.close(self._fds.pop(segment))
            self._pending.clear()


# -- recovery ---------------------------------------------------------------------------------


def read_journal(path: Path) -> list[JournalEntry]:
    """The exchanges a journal holds, in order; a line cut short or unreadable is skipped."""
    last: dict[str, dict[str, Any]] = {}
    ended: set[str] = set()
    stored: set[str] = set()
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # cut short by a crash or a full disk
            try:
                record = json.loads(raw)
                op, entry_id = record["op"], str(record["id"])
            except (ValueError, KeyError, TypeError):
                continue
            if op in ("begin", "end") and isinstance(record.get("exchange"), dict):
                last[entry_id] = record["exchange"]
                if op == "end":
                    ended.add(entry_id)
            elif op == "stored":
                stored.add(entry_id)
    return [JournalEntry(i, e, i in ended, i in stored) for i, e in last.items()]


def leftover_journals(directory: Path) -> Iterator[tuple[Path, list[JournalEntry]]]:
    """Journals no running process holds, with what they say; each is locked while yielded.

    The caller deletes the file once it has stored what it needs (`Path.unlink`).
    """
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its simulator is still running
            if not path.exists():
                continue  # another recoverer took it meanwhile
            yield path, read_journal(path)
        finally:
            os.close(fd)


def stored_ids(store: Store, ids: list[str]) -> set[str]:
    """Those of `ids` the store already holds an exchange for."""
    found: set[str] = set()
    with store.session() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = session.execute(select(ExchangeRecord.id).where(ExchangeRecord.id.in_(chunk)))
            found.update(str(row[0]) for row in rows)
    return found
