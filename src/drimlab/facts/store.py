"""Whether the server simulator can record what it serves: the state of its evidence store.

The simulator journals each request before answering and stores the exchange after; when
either write fails (a full disk, a database that is down) it says so at once and refuses new
requests with 503 (`Cause.STORE_UNAVAILABLE`) until a write succeeds again. This is the
state it reports on its console and at `/drimlab/status`, for the portal to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoreStatus:
    """The simulator's evidence store now: writable or not, since when, and what waits."""

    writable: bool = True
    reason: str = ""  # why the last write failed, in the store's own words
    since: float = 0.0  # when it became (un)writable, seconds since the epoch
    journaled: int = 0  # exchanges journaled and not stored yet
    held: int = 0  # exchanges kept in memory until the store is back
    recorded: int = 0  # exchanges stored by this process
    unrecorded: int = 0  # exchanges that could be neither journaled nor stored
    stopping: bool = False  # draining: new requests are refused (503 shutting-down)

    def as_dict(self) -> dict[str, Any]:
        return {
            "writable": self.writable,
            "reason": self.reason,
            "since": self.since,
            "journaled": self.journaled,
            "held": self.held,
            "recorded": self.recorded,
            "unrecorded": self.unrecorded,
            "stopping": self.stopping,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreStatus:
        return cls(
            writable=bool(data.get("writable", True)),
            reason=str(data.get("reason", "")),
            since=float(data.get("since", 0.0)),
            journaled=int(data.get("journaled", 0)),
            held=int(data.get("held", 0)),
            recorded=int(data.get("recorded", 0)),
            unrecorded=int(data.get("unrecorded", 0)),
            stopping=bool(data.get("stopping", False)),
        )
