"""What the relay notes about one exchange while it passes, and the Exchange it becomes.

A `Capture` is filled by the relay as the bytes go by: the request head as received, the
response head as received, a `Meter` per direction (bytes and SHA-256 as received on one side
and as sent on the other), timings, how the exchange ended. `exchange()` turns it into the
`Exchange` the rules judge (`origin="proxy"`, both connections' TLS facts, `RelayFacts`).
Bodies are not kept, except a small one (a request body, an error response's explanation).
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from drimlab.dicomweb.http1 import Framing, Problem, RequestHead, ResponseHead
from drimlab.exchange import Exchange
from drimlab.facts.relay import RelayEnd, RelayFacts, Tally
from drimlab.facts.tls import TlsFacts

KEPT_BODY = 1024 * 1024  # the most of a request body or an error response body kept


class Ended(Exception):
    """The relay of an exchange stopped before it was whole: how, why, what the proxy answered."""

    def __init__(self, end: RelayEnd, detail: str, *, answer: int | None = None) -> None:
        super().__init__(detail)
        self.end = end
        self.detail = detail
        self.answer = answer


class Meter:
    """One direction: bytes and SHA-256 as received on one side and as sent on the other.

    The relay sends on the very objects it received (immutable `bytes`, or views of them), in
    the same order. While it does, the digest of what was sent is the digest of what was
    received up to the same piece, so each piece is hashed once (a SHA-256 of every byte is
    most of the relay's CPU): `got` keeps a copy of the hash state after each piece not yet
    sent, and `put` of that same object takes it. Anything else that is sent (another object,
    another order, a request sent again) is hashed on its own from then on.
    """

    def __init__(self) -> None:
        self._received = hashlib.sha256()
        self._sent = hashlib.sha256()
        self._unsent: deque[tuple[bytes | memoryview, Any]] = deque()
        self._mirrored = True
        self.received = 0
        self.sent = 0

    def got(self, data: bytes | memoryview) -> None:
        self._received.update(data)
        self.received += len(data)
        if self._mirrored:
            self._unsent.append((data, self._received.copy()))

    def put(self, data: bytes | memoryview) -> None:
        self.sent += len(data)
        if self._mirrored and self._unsent and self._unsent[0][0] is data:
            self._sent = self._unsent.popleft()[1]
            return
        self._diverge()
        self._sent.update(data)

    def _diverge(self) -> None:
        self._mirrored = False
        self._unsent.clear()

    def restart_sent(self) -> None:
        """Forget what was sent (the request goes again on a fresh connection)."""
        self._diverge()
        self._sent = hashlib.sha256()
        self.sent = 0

    def tally(self) -> Tally:
        return Tally(self.received, self._received.hexdigest(), self.sent, self._sent.hexdigest())


def persistent(head: RequestHead | ResponseHead) -> bool:
    """Whether the message lets its connection stay open (RFC 9112 §9.3)."""
    tokens = {
        token.strip().lower()
        for name, value in head.headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    if "close" in tokens:
        return False
    return head.http_version != "HTTP/1.0" or "keep-alive" in tokens


@dataclass
class Capture:
    """One exchange while it is relayed."""

    upstream: str
    consumer_tls: TlsFacts | None
    budget: int
    started_at: float = 0.0
    started: float = 0.0
    request: RequestHead | None = None
    response: ResponseHead | None = None
    source_tls: TlsFacts | None = None
    connect_seconds: float | None = None
    sent_at: float | None = None
    first_byte_at: float | None = None
    finished_at: float | None = None
    body_bytes: int = 0
    framing: Framing | None = None
    chunked: bool = False
    end: RelayEnd = RelayEnd.COMPLETE
    detail: str = ""
    answer: int | None = None
    behind_at: int | None = None

    def __post_init__(self) -> None:
        self.started_at = time.time()
        self.started = time.perf_counter()
        self.up = Meter()  # consumer -> source
        self.down = Meter()  # source -> consumer
        self.request_body = bytearray()
        self.response_body = bytearray()
        self.request_framing: tuple[Problem, ...] = ()

    def keep(self, into: bytearray, data: bytes | memoryview) -> None:
        room = KEPT_BODY - len(into)
        if room > 0:
            into += data[:room]

    def ended(self, end: Ended) -> None:
        self.end, self.detail, self.answer = end.end, end.detail, end.answer

    def request_exchange(self) -> Exchange:
        """The request alone, as the validator needs it to judge the response against."""
        head = self.request
        assert head is not None
        return Exchange(
            method=head.method,
            target=head.target,
            request_headers=head.headers,
            http_version=head.http_version,
            origin="proxy",
            request_problems=(*head.problems, *self.request_framing),
        )

    def timings(self) -> dict[str, float]:
        finished = self.finished_at or time.perf_counter()
        total = finished - self.started
        timings = {"started_at": self.started_at, "total": total}
        if self.connect_seconds is not None:
            timings["connect"] = self.connect_seconds
        if self.sent_at is not None and self.first_byte_at is not None:
            timings["time_to_first_byte"] = self.first_byte_at - self.sent_at
        if self.response is not None:
            timings["body_bytes"] = float(self.body_bytes)
            timings["throughput_bytes_per_second"] = self.body_bytes / total if total > 0 else 0.0
        return timings

    def exchange(self) -> Exchange:
        """The Exchange this capture became."""
        relay = RelayFacts(
            upstream=self.upstream,
            request=self.up.tally(),
            response=self.down.tally(),
            ended=self.end,
            detail=self.detail,
            proxy_status=self.answer,
            validation_budget=self.budget,
            validation_behind_at=self.behind_at,
        )
        failed = self.end is not RelayEnd.COMPLETE
        base = self.request_exchange() if self.request is not None else Exchange(origin="proxy")
        response = self.response
        keep_body = response is not None and response.status not in (200, 206)
        return Exchange(
            method=base.method,
            target=base.target,
            request_headers=base.request_headers,
            request_body=bytes(self.request_body) if self.request_body else None,
            http_version=base.http_version,
            status=None if response is None else response.status,
            reason="" if response is None else response.reason,
            response_headers=() if response is None else response.headers,
            response_body=bytes(self.response_body) if keep_body and self.response_body else None,
            response_body_encoded=self.chunked and keep_body and bool(self.response_body),
            tls=self.consumer_tls,
            upstream_tls=self.source_tls,
            timings=self.timings(),
            origin="proxy",
            request_problems=base.request_problems,
            response_problems=() if response is None else response.problems,
            transport_error=self.detail if failed else None,
            relay=relay,
            label="" if self.request is not None else "consumer connection without a request",
        )
