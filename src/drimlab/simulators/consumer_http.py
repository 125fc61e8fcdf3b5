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
from typing import Literal
from urllib.parse import urlsplit

from drimlab.errors import InputError
from drimlab.facts.tls import Role, TlsFacts
from drimlab.trust.peer import connection_facts, peer_der

RECV_SIZE = 1024 * 1024
MAX_HEAD = 256 * 1024
MAX_CHUNK_LINE = 4096
Framing = Literal["content-length", "chunked", "close", "none"]


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
class ResponseHead:
    """Status line and headers of a response, with what was wrong in them."""

    http_version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    problems: tuple[str, ...] = ()


def parse_head(head: bytes) -> ResponseHead:
    """Parse a response head (without the blank line); TransportError if it is not HTTP."""
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise TransportError(f"not an HTTP response: {lines[0][:80]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise TransportError(f"bad status line {lines[0][:80]!r}") from None
    headers: list[tuple[str, str]] = []
    problems: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            problems.append(f"obsolete line folding: {line[:80]!r}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            problems.append(f"header line is not `name: value`: {line[:80]!r}")
            continue
        headers.append((name, value.strip()))
    reason = status_line[2] if len(status_line) > 2 else ""
    return ResponseHead(status_line[0], status, reason, tuple(headers), tuple(problems))


def framing_of(method: str, head: ResponseHead) -> tuple[Framing, int]:
    """How the body is delimited (RFC 9112 §6.3) and the Content-Length when that is it."""
    if method == "HEAD" or head.status < 200 or head.status in (204, 304):
        return "none", 0
    values = {name.lower(): value for name, value in head.headers}
    coding = values.get("transfer-encoding", "")
    if coding and coding.split(",")[-1].strip().lower() == "chunked":
        return "chunked", 0
    try:
        return "content-length", int(values["content-length"])
    except (KeyError, ValueError):
        return "close", 0


class ChunkEnd:
    """Follows chunk framing over wire bytes just far enough to know where the body ends."""

    def __init__(self) -> None:
        self._state = "size"
        self._line = bytearray()
        self._remaining = 0
        self.done = False
        self.broken = False

    def feed(self, data: bytes) -> int:
        """Consume `data` up to the end of the body; return how many bytes belong to it."""
        pos, size = 0, len(data)
        while pos < size and not self.done and not self.broken:
            if self._state == "data":
                take = min(self._remaining, size - pos)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = "data-end"
                continue
            newline = data.find(b"\n", pos, pos + MAX_CHUNK_LINE)
            if newline < 0:
                self._line += data[pos : pos + MAX_CHUNK_LINE]
                pos = min(size, pos + MAX_CHUNK_LINE)
                if len(self._line) > MAX_CHUNK_LINE:
                    self.broken = True
                continue
            self._line += data[pos:newline]
            pos = newline + 1
            self._on_line(bytes(self._line).rstrip(b"\r"))
            self._line.clear()
        return pos if not self.broken else size

    def _on_line(self, line: bytes) -> None:
        if self._state == "size":
            try:
                self._remaining = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.broken = True  # the rest is read to the close; the validator says why
                return
            self._state = "data" if self._remaining else "trailer"
        elif self._state == "data-end":
            self._state = "size"
        elif self._state == "trailer" and not line:
            self.done = True


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

    @property
    def encoded(self) -> bool:
        return self.framing == "chunked"

    def body(self) -> Iterator[bytes]:
        """The body's bytes as received (chunked framing kept), piece by piece."""
        if self.framing == "none":
            self.complete = True
            return
        remaining = self.length if self.framing == "content-length" else None
        tracker = ChunkEnd() if self.framing == "chunked" else None
        pending = self.rest
        self.rest = b""
        while True:
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
                    self.complete = self.framing == "close" or (
                        tracker is not None and tracker.broken
                    )
                    return
            piece, pending = pending, b""
            if remaining is not None:
                piece = piece[:remaining]
                remaining -= len(piece)
            elif tracker is not None and not tracker.broken:
                used = tracker.feed(piece)
                piece = piece[:used]
            self.wire_bytes += len(piece)
            if piece:
                yield piece
            if (remaining is not None and remaining <= 0) or (tracker is not None and tracker.done):
                self.complete = True
                return

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
    buffer = bytearray()
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            return bytes(buffer[:end]), bytes(buffer[end + 4 :])
        bare = buffer.find(b"\n\n")
        if bare >= 0:
            return bytes(buffer[:bare]), bytes(buffer[bare + 2 :])
        if len(buffer) > MAX_HEAD:
            raise TransportError(f"response head larger than {MAX_HEAD} bytes")
        data = sock.recv(65536)
        if not data:
            raise TransportError("connection closed before a complete response head")
        buffer += data


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
    head = parse_head(raw)
    framing, length = framing_of(request.method, head)
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
