"""What the recording proxy saw of one relayed exchange, beside the messages themselves.

The proxy stands between a consumer and a source: it receives each direction on one side and
sends it on the other. For each direction a `Tally` counts and hashes the bytes as they were
received and as they were sent (whole messages, heads and body framing included), so anyone
can check the relay was byte-exact, and match the hashes against their own capture. `ended`
says how the exchange ended (`RelayEnd`): relayed whole, or which side failed and how, with
`detail` in words. `validation_behind_at` is set when the live validation could not keep up
with the relay: the body offset from which the validator got no more bytes.
Facts, never verdicts: the RELAY rules judge them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class RelayEnd(StrEnum):
    """How a relayed exchange ended."""

    COMPLETE = "complete"  # request and response relayed whole
    SOURCE_UNREACHABLE = "source-unreachable"  # no connection to the source (TCP)
    SOURCE_TLS_FAILED = "source-tls-failed"  # the handshake with the source failed
    SOURCE_CLOSED = "source-closed"  # closed, reset or silent before its response ended
    SOURCE_NOT_HTTP = "source-not-http"  # the source's answer is not an HTTP response
    CONSUMER_CLOSED = "consumer-closed"  # closed before the response was relayed whole
    CONSUMER_NOT_HTTP = "consumer-not-http"  # the consumer's bytes are not an HTTP request


@dataclass(frozen=True)
class Tally:
    """One direction of one exchange: bytes received on one side, bytes sent on the other."""

    received_bytes: int = 0
    received_sha256: str = EMPTY_SHA256
    sent_bytes: int = 0
    sent_sha256: str = EMPTY_SHA256

    @property
    def identical(self) -> bool:
        """What was sent is what was received."""
        return (self.received_bytes, self.received_sha256) == (self.sent_bytes, self.sent_sha256)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received_bytes": self.received_bytes,
            "received_sha256": self.received_sha256,
            "sent_bytes": self.sent_bytes,
            "sent_sha256": self.sent_sha256,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(
            received_bytes=int(data.get("received_bytes", 0)),
            received_sha256=str(data.get("received_sha256", EMPTY_SHA256)),
            sent_bytes=int(data.get("sent_bytes", 0)),
            sent_sha256=str(data.get("sent_sha256", EMPTY_SHA256)),
        )


@dataclass(frozen=True)
class RelayFacts:
    """One relayed exchange: where it went, both directions' tallies, how it ended.

    `request` is consumer -> source (received from the consumer, sent to the source);
    `response` is source -> consumer. `proxy_status` is the status the proxy answered itself
    when the source gave nothing to relay (502 Bad Gateway, 400 to a request it cannot read).
    """

    upstream: str
    request: Tally = Tally()
    response: Tally = Tally()
    ended: RelayEnd = RelayEnd.COMPLETE
    detail: str = ""
    proxy_status: int | None = None
    validation_budget: int = 0
    validation_behind_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream,
            "request": self.request.as_dict(),
            "response": self.response.as_dict(),
            "ended": self.ended.value,
            "detail": self.detail,
            "proxy_status": self.proxy_status,
            "validation_budget": self.validation_budget,
            "validation_behind_at": self.validation_behind_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RelayFacts:
        status = data.get("proxy_status")
        behind = data.get("validation_behind_at")
        return cls(
            upstream=str(data.get("upstream", "")),
            request=Tally.from_dict(data.get("request") or {}),
            response=Tally.from_dict(data.get("response") or {}),
            ended=RelayEnd(data.get("ended", RelayEnd.COMPLETE.value)),
            detail=str(data.get("detail", "")),
            proxy_status=None if status is None else int(status),
            validation_budget=int(data.get("validation_budget", 0)),
            validation_behind_at=None if behind is None else int(behind),
        )
