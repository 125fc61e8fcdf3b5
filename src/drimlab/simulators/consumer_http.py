"""The client simulator's HTTP/1.1 client: requests sent byte for byte, responses streamed.

A consumer under test is judged on what goes over the wire, so this client owns the wire: the
request head is built once (`HttpRequest.head`), sent as is and recorded as is; the response
head is parsed leniently (a malformed header line is a problem to report, not a crash) and the
body is handed out in wire form (chunk framing included) until its framing says it is over,
never held whole. TLS failures keep their `ssl.SSLError` so the caller can classify them.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from drimlab.dicomweb.http1 import (
    BodyFramer,
    EmptyMessage,
    Framing,
    HeadError,
    HeadReader,
    IncompleteHead,
    Problem,
    ResponseHead,
    framing_of,
    parse_response_head,
)
from drimlab.errors import InputError
from drimlab.facts.tls import Role, TlsFacts
from drimlab.trust.peer import connection_facts, peer_der

RECV_SIZE = 1024 * 1024
HEAD_RECV_SIZE = 64 * 1024


class TransportError(Exception):
    """The exchange could not take place (connection refused, TLS refused, reset)."""

    def __init__(self, message: str, tls_error: ssl.SSLError | None = None) -> None:
        super().__init__(message)
        self.tls_error = tls_error


@dataclass(frozen=True)
class HttpRequest:
    """One request as it will go on the wire: method, absolute URL, ordered headers."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{self.url!r} is not an http(s) URL")
        for name, value in self.headers:
            if any(c in name + value for c in "\r\n"):
                raise InputError(f"header {name!r}: line breaks are not allowed in a header")

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def target(self) -> str:
        """The request-target of the request line (origin form: path and query)."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def head(self) -> bytes:
        """The request line and header block, exactly as sent."""
        lines = [f"{self.method} {self.target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        try:
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError as exc:
            raise InputError(f"request headers must be Latin-1 text: {exc}") from None


@dataclass
class ResponseStream:
    """An open response: its head, then `body()` yields wire bytes until the body ends."""

    request: HttpRequest
    sock: socket.socket
    head: ResponseHead
    framing: Framing
    length: int
    rest: bytes
    peer: TlsFacts | None  # the connection's facts (None: plain HTTP)
    peer_der: bytes | None
    connect_seconds: float
    first_byte_seconds: float
    problems: list[str] = field(default_factory=list)
    complete: bool = False
    wire_bytes: int = 0
    _eof: bool = False
    _framer: BodyFramer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._framer = BodyFramer(self.framing, self.length)

    @property
    def encoded(self) -> bool:
        return self.framing == Framing.CHUNKED

    @property
    def framing_problems(self) -> tuple[Problem, ...]:
        """What was wrong with the body's framing (bad chunks, a body cut short), so far."""
        return tuple(self._framer.problems)

    def body(self) -> Iterator[bytes]:
        """The body's bytes as received (chunked framing kept), piece by piece.

        Bytes received past the end of the body (a server writing ahead on a kept-alive
        connection) are left in `rest`.
        """
        framer = self._framer
        pending = self.rest
        self.rest = b""
        while not framer.ended:
            if not pending:
                try:
                    pending = self._receive()
                except TimeoutError:
                    self.problems.append("the source stopped sending (read timed out)")
                    return
                except ssl.SSLError as exc:
                    self.problems.append(f"TLS error while reading the body: {exc}")
                    return
                except OSError as exc:
                    self.problems.append(f"connection error while reading the body: {exc}")
                    return
                if not pending:
                    framer.close()
                    # After a chunk framing fault the body runs to the close: it was read whole.
                    self.complete = framer.complete or framer.broken
                    return
            piece, pending = pending, b""
            body, past = framer.feed(piece)
            self.wire_bytes += len(body)
            if body:
                yield piece if len(body) == len(piece) else bytes(body)
            if past:
                self.rest = bytes(past)
        self.complete = True

    def _receive(self) -> bytes:
        """Block for the next bytes, then take whatever else is already there (up to 1 MiB).

        A TLS socket returns one record (16 KiB) per read; handing the validator bigger pieces
        saves per-call work. Only data already received is added, so this never waits longer.
        """
        if self._eof:
            return b""
        first = self.sock.recv(RECV_SIZE)
        if not first:
            return first
        pieces, size = [first], len(first)
        while size < RECV_SIZE and self._more_ready():
            more = self.sock.recv(RECV_SIZE - size)
            if not more:
                self._eof = True
                break
            pieces.append(more)
            size += len(more)
        return b"".join(pieces) if len(pieces) > 1 else first

    def _more_ready(self) -> bool:
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        ready, _, _ = select.select([self.sock], [], [], 0)
        return bool(ready)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _connect(
    request: HttpRequest, tls: ssl.SSLContext | None, timeout: float
) -> tuple[socket.socket, TlsFacts | None, bytes | None]:
    try:
        sock = socket.create_connection((request.host, request.port), timeout=timeout)
    except OSError as exc:
        raise InputError(
            f"cannot connect to {request.host}:{request.port}: {exc.strerror or exc}"
        ) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if request.scheme != "https":
        return sock, None, None
    if tls is None:
        sock.close()
        raise InputError(f"{request.url}: an https URL needs a TLS context")
    try:
        wrapped = tls.wrap_socket(sock, server_hostname=request.host)
    except ssl.SSLError as exc:
        sock.close()
        raise TransportError(f"TLS handshake failed: {exc}", exc) from None
    except OSError as exc:
        sock.close()
        raise TransportError(f"TLS handshake failed: {exc}") from None
    where = f"{request.host}:{request.port}"
    return wrapped, connection_facts(wrapped, Role.CLIENT, peer_address=where), peer_der(wrapped)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The response head as received and the bytes after it; TransportError if it is not HTTP."""
    reader = HeadReader("response")
    try:
        while not reader.feed(data := sock.recv(HEAD_RECV_SIZE)):
            if not data:
                reader.close()
    except EmptyMessage:
        raise TransportError("connection closed before a complete response head") from None
    except IncompleteHead as exc:
        raise TransportError(f"connection closed inside the response head: {exc}") from None
    except HeadError as exc:
        raise TransportError(f"not a usable HTTP response: {exc}") from None
    return reader.head, reader.rest


def open_response(
    request: HttpRequest,
    tls: ssl.SSLContext | None = None,
    *,
    timeout: float = 60.0,
    extra_head: Sequence[bytes] = (),
) -> ResponseStream:
    """Connect, send the request head, read the response head; the body is left to stream.

    InputError when the address is unusable; TransportError when the source refuses or drops
    the exchange (its `tls_error` keeps a TLS refusal for classification).
    """
    started = time.perf_counter()
    sock, peer, der = _connect(request, tls, timeout)
    connected = time.perf_counter()
    try:
        sock.sendall(request.head() + b"".join(extra_head))
        raw, rest = _read_head(sock)
    except ssl.SSLError as exc:
        sock.close()
        raise TransportError(f"TLS refusal: {exc}", exc) from None
    except TransportError:
        sock.close()
        raise
    except OSError as exc:
        sock.close()
        raise TransportError(f"the source dropped the connection: {exc}") from None
    first = time.perf_counter()
    try:
        head = parse_response_head(raw)
    except HeadError as exc:
        sock.close()
        raise TransportError(f"not a usable HTTP response: {exc}") from None
    framing, length = framing_of(head, request.method)
    return ResponseStream(
        request=request,
        sock=sock,
        head=head,
        framing=framing,
        length=length,
        rest=rest,
        peer=peer,
        peer_der=der,
        connect_seconds=connected - started,
        first_byte_seconds=first - started,
    )
