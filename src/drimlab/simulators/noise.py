"""Repeated rejections from one address: the first few recorded one by one, the rest summed up.

A scanner or a broken client can send the same unparsable head, unknown path or slow header
thousands of times; storing each would grow the store without bound and bury the evidence that
matters. Per (peer address, cause) and per `window` seconds, the first `burst` rejections are
recorded as they come; the others are counted, and one summary exchange (the last of them, its
decision saying how many more there were and when) is recorded when the window ends or the
simulator stops. WADO-RS requests are never aggregated: each one is evidence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from drimlab.exchange import Exchange

BURST = 5
WINDOW_SECONDS = 60.0

NoiseKey = tuple[str, str]  # (peer host, cause)


@dataclass
class _Slot:
    opened: float
    seen: int = 0
    repeats: int = 0
    first_repeat: float | None = None
    last: Exchange | None = None


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "?"
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def summary(exchange: Exchange, repeats: int, first: float | None, host: str) -> Exchange:
    """The last of `repeats` aggregated rejections, saying how many there were and when."""
    decision = exchange.decision
    last = exchange.timings.get("started_at")
    note = (
        f"{repeats} more request(s) from {host} refused the same way between {_when(first)} "
        f"and {_when(last)} (aggregated)"
    )
    return replace(
        exchange,
        label=f"{note}; the last: {exchange.subject}",
        decision=None
        if decision is None
        else replace(decision, detail=f"{note}; the last: {decision.detail}"),
        timings={**exchange.timings, "repeats": float(repeats), "first_repeat_at": first or 0.0},
    )


class NoiseAggregator:
    """Hands rejections to `sink`, aggregating repeats per (peer host, cause) and window."""

    def __init__(
        self,
        sink: Callable[[Exchange], None],
        *,
        burst: int = BURST,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self.burst = burst
        self.window = window
        self._clock = clock
        self._slots: dict[NoiseKey, _Slot] = {}
        self._lock = threading.Lock()

    def add(self, key: NoiseKey, exchange: Exchange) -> None:
        now = self._clock()
        due = self._expired(now)
        with self._lock:
            slot = self._slots.setdefault(key, _Slot(opened=now))
            slot.seen += 1
            immediate = slot.seen <= self.burst
            if not immediate:
                slot.repeats += 1
                slot.last = exchange
                if slot.first_repeat is None:
                    slot.first_repeat = exchange.timings.get("started_at")
        for item in due:
            self._sink(item)
        if immediate:
            self._sink(exchange)

    def tick(self) -> None:
        """Record the summaries of the windows that have ended."""
        for item in self._expired(self._clock()):
            self._sink(item)

    def flush(self) -> None:
        """Record every pending summary now (the simulator is stopping)."""
        for item in self._expired(None):
            self._sink(item)

    def _expired(self, now: float | None) -> list[Exchange]:
        out = []
        with self._lock:
            for key, slot in list(self._slots.items()):
                if now is None or now - slot.opened >= self.window:
                    del self._slots[key]
                    if slot.repeats and slot.last is not None:
                        out.append(summary(slot.last, slot.repeats, slot.first_repeat, key[0]))
        return out
