"""Outcomes of the probe battery: what each bad request got, and what a burst got.

The client simulator sends each probe and records what happened (`ProbeOutcome`): the HTTP
status, or that the TLS handshake was refused (with OpenSSL's reason) or the connection
dropped, or why the probe could not be sent at all. The PROBE rules hold the expectations and
judge these outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Transport(StrEnum):
    """How an exchange ended when it did not end with an HTTP response."""

    RESPONSE = "response"
    TLS_REFUSED = "tls-refused"
    DROPPED = "dropped"
    NOT_SENT = "not-sent"


@dataclass(frozen=True)
class ProbeOutcome:
    """One probe: which (`probe` is its stable id), what it sent, what came back."""

    probe: str
    transport: Transport
    status: int | None = None
    target: str = ""
    tls_reason: str = ""
    detail: str = ""
    part_transfer_syntaxes: tuple[str | None, ...] = ()
    exchange_id: str | None = None
    accept: str = ""  # the Accept the probe sent ('' when none), for the q-negotiation check

    @property
    def actual(self) -> int | str:
        """The outcome as the probe table shows it: the status or how the transport ended."""
        return self.status if self.status is not None else self.transport.value

    def as_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "transport": self.transport.value,
            "status": self.status,
            "target": self.target,
            "tls_reason": self.tls_reason,
            "detail": self.detail,
            "part_transfer_syntaxes": list(self.part_transfer_syntaxes),
            "exchange_id": self.exchange_id,
            "accept": self.accept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeOutcome:
        status = data.get("status")
        return cls(
            probe=str(data["probe"]),
            transport=Transport(data["transport"]),
            status=None if status is None else int(status),
            target=str(data.get("target", "")),
            tls_reason=str(data.get("tls_reason", "")),
            detail=str(data.get("detail", "")),
            part_transfer_syntaxes=tuple(data.get("part_transfer_syntaxes", ())),
            exchange_id=data.get("exchange_id"),
            accept=str(data.get("accept") or ""),
        )


@dataclass(frozen=True)
class ProbeBattery:
    """Every outcome of one run of the battery, for the rules that compare probes (q)."""

    outcomes: tuple[ProbeOutcome, ...]

    def outcome(self, probe: str) -> ProbeOutcome | None:
        return next((o for o in self.outcomes if o.probe == probe), None)


@dataclass(frozen=True)
class BurstAttempt:
    """One retrieval of a concurrent burst."""

    status: int | None
    complete: bool
    error: str = ""
    time_to_first_byte: float = 0.0
    total: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BurstOutcome:
    """A bounded burst of identical retrievals sent at once, each attempt's outcome."""

    target: str
    concurrency: int
    attempts: tuple[BurstAttempt, ...] = field(default_factory=tuple)
    wall_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "attempts": [a.as_dict() for a in self.attempts],
            "wall_seconds": self.wall_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BurstOutcome:
        return cls(
            target=str(data.get("target", "")),
            concurrency=int(data.get("concurrency", 1)),
            attempts=tuple(BurstAttempt(**a) for a in data.get("attempts", ())),
            wall_seconds=float(data.get("wall_seconds", 0.0)),
        )
