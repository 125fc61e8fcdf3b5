"""The simulated source's connections: header and idle timeouts, a cap per address, rejections.

aiohttp parses each request head and runs the handler; around it the bench adds what a source
exposed to other DRIMBoxes needs (the limits are documented in docs/server.md):

- a request head (request line and headers) must arrive whole within `header_timeout` seconds
  of its first byte; a slower one (slowloris) is answered 408 and closed, recorded with the
  cause `header-timeout`;
- a connection idle for `idle_timeout` seconds (no byte since it opened, or since its last
  response) is closed, as keep-alive allows (not recorded: nothing was asked);
- at most `max_per_peer` connections from one address at once: the next is answered 503 and
  closed, recorded with the cause `connection-limit`;
- a head aiohttp cannot parse (bad bytes in a header, a request line that is not HTTP, TLS
  sent to a plain port) is answered with the bench's JSON error naming the cause and recorded
  as `request-unparsable`, without the traceback aiohttp would log.

Each rejection is an `Exchange` (its TLS facts, the decision, a sample of the bytes received)
handed to the guard's sink; the recorder aggregates repeats per address (`noise.py`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from drimlab.exchange import Exchange
from drimlab.facts.decision import Cause, Decision
from drimlab.facts.tls import Role, TlsFacts, plain
from drimlab.simulators.refusals import HSTS, Refusal, error_response
from drimlab.trust.peer import address, connection_facts

HEADER_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0
MAX_CONNECTIONS_PER_PEER = 128
HEAD_SAMPLE = 256  # bytes of a rejected head kept in its record
LINGER = 2.0  # seconds a rejected connection stays open for its peer to read the answer


@dataclass(frozen=True)
class ConnectionPolicy:
    """The limits every connection of a listener is held to (seconds, connections)."""

    header_timeout: float = HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    max_per_peer: int = MAX_CONNECTIONS_PER_PEER


def connection_tls(transport: asyncio.BaseTransport | None) -> TlsFacts:
    """The facts of a connection as the server sees it (no CRL or whitelist lookups)."""
    peer = address(transport.get_extra_info("peername")) if transport is not None else None
    conn = transport.get_extra_info("ssl_object") if transport is not None else None
    if isinstance(conn, ssl.SSLObject | ssl.SSLSocket):
        return connection_facts(conn, Role.SERVER, peer_address=peer)
    return plain(Role.SERVER, peer)


def _sample(data: bytes) -> str:
    text = repr(data[:HEAD_SAMPLE])[2:-1]
    return text + ("…" if len(data) > HEAD_SAMPLE else "")


def _raw_answer(status: int, reason: str, cause: Cause, detail: str) -> bytes:
    """A whole HTTP/1.1 error response, for a connection that never reached a handler."""
    body = json.dumps({"status": status, "cause": cause.value, "error": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nStrict-Transport-Security: {HSTS}\r\n"
        "Connection: close\r\n"
    )
    if status == 503:
        head += "Retry-After: 1\r\n"
    return head.encode() + b"\r\n" + body


class ConnectionGuard:
    """What the connections of one listener share: the policy, counts per address, the sink."""

    def __init__(
        self,
        policy: ConnectionPolicy | None = None,
        sink: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.policy = policy or ConnectionPolicy()
        self.sink = sink
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._live: set[GuardedHandler] = set()

    def admit(self, host: str) -> bool:
        with self._lock:
            if self._counts.get(host, 0) >= self.policy.max_per_peer:
                return False
            self._counts[host] = self._counts.get(host, 0) + 1
            return True

    def release(self, host: str) -> None:
        with self._lock:
            left = self._counts.get(host, 0) - 1
            if left > 0:
                self._counts[host] = left
            else:
                self._counts.pop(host, None)

    def opened(self, handler: GuardedHandler) -> None:
        self._live.add(handler)

    def closed(self, handler: GuardedHandler) -> None:
        self._live.discard(handler)

    async def close_all(self, grace: float = 0.2) -> None:
        """Cut what is still open once the server has shut down (a peer that never closes)."""
        if self._live:
            await asyncio.sleep(grace)  # let the polite ones finish their TLS close
        for handler in list(self._live):
            handler.abort()

    def open_connections(self, host: str) -> int:
        with self._lock:
            return self._counts.get(host, 0)

    def reject(self, transport: asyncio.BaseTransport | None, decision: Decision) -> None:
        """Record a rejection that never reached a WADO-RS handler."""
        if self.sink is None:
            return
        tls = connection_tls(transport)
        self.sink(
            Exchange(
                origin="server",
                status=decision.status,
                tls=tls,
                decision=decision,
                label=f"rejected connection from {tls.peer_address or '?'}: {decision.detail}",
                timings={"started_at": time.time()},
            )
        )

    def protocol_factory(self, server: web.Server) -> Callable[[], GuardedHandler]:
        """A protocol factory for `loop.create_server` serving aiohttp `server` under guard."""
        loop = asyncio.get_running_loop()
        inner = server.request_factory

        def request_factory(message: Any, payload: Any, protocol: Any, *rest: Any) -> Any:
            if isinstance(protocol, GuardedHandler):
                protocol.head_complete()
            return inner(message, payload, protocol, *rest)

        server.request_factory = request_factory
        return lambda: GuardedHandler(server, self, loop=loop)


class GuardedHandler(RequestHandler):
    """aiohttp's request handler, held to the guard's timeouts and cap, recording rejections."""

    def __init__(
        self, manager: web.Server, guard: ConnectionGuard, *, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(
            manager,
            loop=loop,
            keepalive_timeout=guard.policy.idle_timeout,
            access_log=None,  # type: ignore[arg-type]  # aiohttp accepts None: no access log
        )
        self.guard = guard
        self._host: str | None = None
        self._busy = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._head = b""
        self._rejected = False
        self._own_transport: asyncio.Transport | None = None

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._own_transport = transport if isinstance(transport, asyncio.Transport) else None
        self.guard.opened(self)
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self.guard.admit(host):
            detail = (
                f"{host} already holds {self.guard.policy.max_per_peer} connections to this "
                "source (the most one address may hold at once)"
            )
            decision = Decision(503, Cause.CONNECTION_LIMIT, detail)
            self.guard.reject(transport, decision)
            self._answer_and_close(503, "Service Unavailable", decision)
            return
        self._host = host

    def abort(self) -> None:
        """Close at once, without waiting for the peer (the server is stopping)."""
        if self._own_transport is not None:
            self._own_transport.abort()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.guard.closed(self)
        self._own_transport = None
        self._cancel_head_timer()
        if self._host is not None:
            self.guard.release(self._host)
            self._host = None
        super().connection_lost(exc)

    def _answer_and_close(self, status: int, reason: str, decision: Decision) -> None:
        """Answer, then close once the peer had time to read: what it still sends is dropped
        (closing with unread bytes would reset the connection before the answer is read)."""
        self._rejected = True
        transport = self.transport
        if transport is None or transport.is_closing():
            self.force_close()
            return
        transport.write(_raw_answer(status, reason, decision.cause, decision.detail))
        if transport.can_write_eof():
            transport.write_eof()
        self._loop.call_later(LINGER, self.force_close)

    # -- request heads ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return  # answered and closing: read and drop
        if data and not self._busy:
            if self._head_timer is None:
                self._head_timer = self._loop.call_later(
                    self.guard.policy.header_timeout, self._head_timed_out
                )
            if len(self._head) < HEAD_SAMPLE + 1:
                self._head += data[: HEAD_SAMPLE + 1 - len(self._head)]
        super().data_received(data)

    def head_complete(self) -> None:
        """A whole head was parsed (a request, or a parse error): its timer stops."""
        self._cancel_head_timer()
        self._busy = True

    def log_access(self, request: Any, response: Any, time: float | None) -> None:
        super().log_access(request, response, time)
        self._busy = False  # the response is finished: the next head starts a new timer
        self._head = b""

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._busy:
            return
        timeout = self.guard.policy.header_timeout
        detail = (
            f"no complete request head within {timeout:g} s of its first byte; received "
            f"'{_sample(self._head)}'"
        )
        decision = Decision(408, Cause.HEADER_TIMEOUT, detail)
        self.guard.reject(self.transport, decision)
        self._answer_and_close(408, "Request Timeout", decision)

    # -- heads aiohttp cannot parse -----------------------------------------------------------

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)  # a bench failure: logged
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent on this connection")
        reason = " ".join((message or str(exc or "unparsable request")).split())[:300]
        detail = f"the request head could not be parsed: {reason}; received '{_sample(self._head)}'"
        refusal = Refusal(status, Cause.REQUEST_UNPARSABLE, detail)
        self.guard.reject(self.transport, refusal.decision)
        response = error_response(refusal)
        response.force_close()
        return response
