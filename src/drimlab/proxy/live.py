"""Live validation: every relayed response is validated as it passes, in worker threads, and
never holds the relay back.

The relay hands each piece of a response to its `LiveTap` (`feed`), which queues it for a
worker thread and returns at once. What is queued and not yet validated is bounded
(`validation_buffer` bytes per worker): a piece that would exceed the bound is not queued; the
tap records where the validation fell behind (`behind_at`) and takes no more of that body, the
relay goes on at full speed, and the exchange is judged on its heads, TLS and transport facts
only (RELAY-007 says so in the report). A worker resolves the exchange's KOS, drives the
`ResponseValidator` push API (`feed_headers`, `feed`, `close`) and hands the finished Exchange
and its Report to `on_report`. Exchanges without a response go whole to `validate_exchange`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from drimlab.documents.kos import Kos
from drimlab.exchange import Exchange
from drimlab.validation.assess import Selection
from drimlab.validation.engine import ResponseValidator, validate_exchange
from drimlab.validation.report import Report

KosLookup = Callable[[Exchange], Kos | None]
ReportSink = Callable[[Exchange, Report], None]
FailureSink = Callable[[Exchange, str], None]

_START, _FEED, _FINISH, _JUDGE, _STOP = range(5)


class LiveTap:
    """One response on its way to a worker: the relay's side of its validation."""

    def __init__(self, worker: _Worker, request: Exchange) -> None:
        self.request = request
        self.offset = 0  # body bytes handed to the tap (queued or not)
        self.behind_at: int | None = None
        self._worker = worker
        # the worker's side
        self._validator: ResponseValidator | None = None
        self._head: tuple[int, tuple[tuple[str, str], ...], bool, tuple[str, ...]] | None = None
        self._kos: Kos | None = None
        self._error: str | None = None

    @property
    def budget(self) -> int:
        return self._worker.budget

    def headers(
        self,
        status: int,
        headers: Sequence[tuple[str, str]],
        *,
        encoded: bool,
        problems: Sequence[str] = (),
    ) -> None:
        """The response head (`encoded`: the body comes in its chunked framing)."""
        head = (status, tuple(headers), encoded, tuple(problems))
        self._worker.put((self, _START, head))

    def feed(self, data: bytes | memoryview) -> None:
        """The next body bytes, as relayed; never blocks, never copies on the relay's side."""
        size = len(data)
        if self.behind_at is not None or not size:
            return
        if not self._worker.reserve(size):
            self.behind_at = self.offset
            self.offset += size
            return
        self.offset += size
        self._worker.put((self, _FEED, data))

    def finish(self, exchange: Exchange) -> None:
        """The exchange is over: judge it with everything it carries (TLS, relay facts)."""
        self._worker.put((self, _FINISH, exchange))

    # -- in the worker thread ---------------------------------------------------------------

    def _start(self, pool: ValidationPool) -> None:
        assert self._head is not None
        status, headers, encoded, problems = self._head
        self._kos = pool.kos_for(self.request)
        self._validator = ResponseValidator(
            self.request, pool.selection, kos=self._kos, judge_request=True
        )
        self._validator.feed_headers(status, headers, encoded=encoded, problems=problems)
        self._validator.feed(b"")

    def _feed(self, data: bytes | memoryview) -> None:
        if self._validator is None or self.behind_at is not None or self._error:
            return
        self._validator.feed(data if isinstance(data, bytes) else bytes(data))

    def _report(self, pool: ValidationPool, exchange: Exchange) -> Report:
        if self._head is None:
            return validate_exchange(exchange, pool.selection, kos=pool.kos_for(exchange))
        validator = self._validator
        if validator is None or self.behind_at is not None:
            # What was fed is only part of the body: judge the heads and the facts alone.
            if validator is not None:
                validator.discard()
            status, headers, encoded, problems = self._head
            validator = ResponseValidator(
                self.request, pool.selection, kos=self._kos, judge_request=True
            )
            validator.feed_headers(status, headers, encoded=encoded, problems=problems)
        return validator.close(exchange)


class _Worker:
    """One validation thread and its bounded backlog."""

    def __init__(self, pool: ValidationPool, index: int, budget: int) -> None:
        self.pool = pool
        self.budget = budget
        self.pending = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[LiveTap | None, int, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, name=f"drimlab-proxy-validate-{index}", daemon=True
        )
        self._thread.start()

    def reserve(self, size: int) -> bool:
        """Count `size` bytes as queued, unless that would exceed the budget."""
        with self._lock:
            if self.pending + size > self.budget:
                return False
            self.pending += size
            return True

    def put(self, op: tuple[LiveTap | None, int, Any]) -> None:
        self._queue.put(op)

    def stop(self) -> None:
        self._queue.put((None, _STOP, None))
        self._thread.join()

    def _run(self) -> None:
        while True:
            tap, kind, payload = self._queue.get()
            if kind == _STOP:
                return
            if kind == _FEED:
                try:
                    assert tap is not None
                    tap._feed(payload)
                except Exception as exc:  # a validator fault must not stop the worker
                    assert tap is not None
                    tap._error = f"validation failed: {exc!r}"
                finally:
                    with self._lock:
                        self.pending -= len(payload)
            elif kind == _START:
                assert tap is not None
                tap._head = payload
                try:
                    tap._start(self.pool)
                except Exception as exc:
                    tap._error = f"validation failed: {exc!r}"
            else:
                self._finish(tap, payload)

    def _finish(self, tap: LiveTap | None, exchange: Exchange) -> None:
        pool = self.pool
        try:
            if tap is not None and tap._error:
                if tap._validator is not None:
                    tap._validator.discard()
                raise RuntimeError(tap._error)
            if tap is None:
                report = validate_exchange(exchange, pool.selection, kos=pool.kos_for(exchange))
            else:
                report = tap._report(pool, exchange)
        except Exception as exc:  # stored without a report, and said
            pool.on_failure(exchange, f"{exchange.subject}: {exc}")
            return
        pool.on_report(replace(exchange, parts=report.parts or exchange.parts), report)


class ValidationPool:
    """The validation threads of one proxy; `tap` for a response, `judge` for the rest."""

    def __init__(
        self,
        selection: Selection,
        *,
        kos_for: KosLookup,
        on_report: ReportSink,
        on_failure: FailureSink,
        budget: int,
        workers: int = 1,
    ) -> None:
        self.selection = selection
        self.kos_for = kos_for
        self.on_report = on_report
        self.on_failure = on_failure
        self._workers = [_Worker(self, index, budget) for index in range(workers)]

    def tap(self, request: Exchange) -> LiveTap:
        """A tap for the response to `request`, on the least loaded worker."""
        worker = min(self._workers, key=lambda w: w.pending)
        return LiveTap(worker, request)

    def judge(self, exchange: Exchange) -> None:
        """Judge an exchange that has no response to stream (refused, unreachable...)."""
        self._workers[0].put((None, _JUDGE, exchange))

    def close(self) -> None:
        """Finish what is queued, then stop the threads."""
        for worker in self._workers:
            worker.stop()
