"""Capture a live HTTP response exactly as the server sent it, streamed to a file.

The file is in the raw response format drimlab's loader reads: the status line and header
lines byte for byte as received, the blank line, then the body. By default the body is kept
as it came on the wire (chunk framing included: the loader de-chunks it); `dechunk=True`
writes the payload only. `Capture.framing` / `Capture.dechunked` (and the optional JSON
sidecar) record which. Nothing is held whole in memory, and a failed capture leaves no file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import urlsplit

from drimlab.errors import InputError

Framing = Literal["content-length", "chunked", "close", "none"]
_MAX_HEAD = 256 * 1024
_CHUNK = 1 << 20
_MAX_LINE = 8192


@dataclass(frozen=True)
class Capture:
    """What was captured: where it is, the response head, how the body was delimited."""

    path: Path
    url: str
    request_head: bytes
    http_version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    framing: Framing
    dechunked: bool
    complete: bool
    body_size: int
    body_sha256: str
    elapsed_seconds: float
    peer_certificate: dict[str, Any] | None = None
    tls_version: str | None = None
    notes: tuple[str, ...] = field(default=())

    def header(self, name: str) -> str | None:
        """The first value of a response header, case-insensitive."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "url": self.url,
            "request_head": self.request_head.decode("latin-1"),
            "http_version": self.http_version,
            "status": self.status,
            "reason": self.reason,
            "headers": [list(h) for h in self.headers],
            "framing": self.framing,
            "dechunked": self.dechunked,
            "complete": self.complete,
            "body_size": self.body_size,
            "body_sha256": self.body_sha256,
            "elapsed_seconds": self.elapsed_seconds,
            "peer_certificate": self.peer_certificate,
            "tls_version": self.tls_version,
            "notes": list(self.notes),
        }


def client_tls_context(
    ca_file: Path, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client TLS context trusting `ca_file` only, presenting a certificate when given."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load TLS material ({ca_file}, {cert_file}): {exc}") from exc
    return context


def capture_response(
    url: str,
    out_path: Path,
    *,
    headers: Sequence[tuple[str, str]] = (),
    method: str = "GET",
    tls: ssl.SSLContext | None = None,
    dechunk: bool = False,
    timeout: float = 60.0,
    request_path: Path | None = None,
    sidecar: bool = False,
) -> Capture:
    """Send one request to `url` and stream its response into `out_path`.

    `headers` are sent in order, as given (a `Host` header is added first when absent).
    `request_path`, when given, receives the request head exactly as sent. `sidecar=True` writes
    `Capture.as_dict()` next to the capture as `<out_path>.json`.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url}: not an http(s) URL")
    if parts.scheme == "https" and tls is None:
        tls = ssl.create_default_context()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = _request_head(method, target, parts.netloc, headers)
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.part")
    started = time.monotonic()
    sock = _connect(parts.hostname, port, tls, timeout, url)
    try:
        sock.sendall(head)
        with tmp.open("wb") as out:
            result = _receive(sock, out, method, dechunk, url)
        peer = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
        tls_version = sock.version() if isinstance(sock, ssl.SSLSocket) else None
    except OSError as exc:
        _discard(tmp)
        raise InputError(f"{url}: capture failed: {exc}") from exc
    except BaseException:
        _discard(tmp)
        raise
    finally:
        sock.close()
    os.replace(tmp, out_path)
    if request_path is not None:
        Path(request_path).write_bytes(head)
    capture = Capture(
        path=out_path,
        url=url,
        request_head=head,
        peer_certificate=_plain(peer) if peer else None,
        tls_version=tls_version,
        elapsed_seconds=time.monotonic() - started,
        **result,
    )
    if sidecar:
        out_path.with_name(out_path.name + ".json").write_text(
            json.dumps(capture.as_dict(), indent=2)
        )
    return capture


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _request_head(
    method: str, target: str, netloc: str, headers: Sequence[tuple[str, str]]
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    if not any(name.lower() == "host" for name, _ in headers):
        lines.append(f"Host: {netloc}")
    for name, value in headers:
        if "\n" in name or "\n" in value or "\r" in name or "\r" in value:
            raise InputError(f"header {name!r}: line breaks are not allowed in a header")
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise InputError(f"request headers must be Latin-1 text: {exc}") from exc


def _connect(
    host: str, port: int, tls: ssl.SSLContext | None, timeout: float, url: str
) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise InputError(f"{url}: cannot connect: {exc.strerror or exc}") from exc
    if tls is None:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise InputError(f"{url}: TLS handshake failed: {exc}") from exc


def _receive(
    sock: socket.socket, out: BinaryIO, method: str, dechunk: bool, url: str
) -> dict[str, Any]:
    buffer = bytearray()
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        if len(buffer) > _MAX_HEAD:
            raise InputError(f"{url}: response head larger than {_MAX_HEAD} bytes")
        data = sock.recv(65536)
        if not data:
            raise InputError(f"{url}: connection closed before the end of the response head")
        buffer += data
    head = bytes(buffer[: end + 4])
    rest = bytes(buffer[end + 4 :])
    version, status, reason, headers = _parse_head(head, url)
    out.write(head)
    framing, length = _framing(method, status, headers)
    body = _BodyWriter(out)
    notes: list[str] = []
    complete = True
    if framing == "content-length":
        complete = _copy_exact(sock, rest, length, body)
    elif framing == "close":
        _copy_to_close(sock, rest, body)
    elif framing == "chunked":
        complete, note = _copy_chunked(sock, rest, body, dechunk)
        if note:
            notes.append(note)
    if not complete:
        notes.append("the connection closed before the end of the body")
    return {
        "http_version": version,
        "status": status,
        "reason": reason,
        "headers": headers,
        "framing": framing,
        "dechunked": dechunk and framing == "chunked",
        "complete": complete,
        "body_size": body.size,
        "body_sha256": body.sha256.hexdigest(),
        "notes": tuple(notes),
    }


def _parse_head(head: bytes, url: str) -> tuple[str, int, str, tuple[tuple[str, str], ...]]:
    lines = head[:-4].decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise InputError(f"{url}: not an HTTP response: {lines[0][:80]!r}")
    try:
        status = int(status_line[1])
    except ValueError as exc:
        raise InputError(f"{url}: bad status line {lines[0][:80]!r}") from exc
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    reason = status_line[2] if len(status_line) > 2 else ""
    return status_line[0], status, reason, tuple(headers)


def _framing(method: str, status: int, headers: tuple[tuple[str, str], ...]) -> tuple[Framing, int]:
    if method == "HEAD" or status < 200 or status in (204, 304):
        return "none", 0
    values = {name.lower(): value for name, value in headers}
    coding = values.get("transfer-encoding", "")
    if coding and coding.split(",")[-1].strip().lower() == "chunked":
        return "chunked", 0
    if "content-length" in values:
        try:
            return "content-length", int(values["content-length"])
        except ValueError:
            return "close", 0
    return "close", 0


class _BodyWriter:
    """Writes body bytes to the capture file and hashes them as they pass."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        if data:
            self.out.write(data)
            self.sha256.update(data)
            self.size += len(data)


def _chunks(sock: socket.socket) -> Any:
    """The bytes received from `sock` until the peer closes, in pieces of up to 1 MiB."""
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while True:
        count = sock.recv_into(buffer)
        if count == 0:
            return
        yield view[:count]


def _copy_exact(sock: socket.socket, rest: bytes, length: int, body: _BodyWriter) -> bool:
    body.write(rest[:length])
    remaining = length - min(len(rest), length)
    if remaining == 0:
        return True
    for piece in _chunks(sock):
        take = piece[:remaining]
        body.write(take)
        remaining -= len(take)
        if remaining == 0:
            return True
    return False


def _copy_to_close(sock: socket.socket, rest: bytes, body: _BodyWriter) -> None:
    body.write(rest)
    for piece in _chunks(sock):
        body.write(piece)


def _copy_chunked(
    sock: socket.socket, rest: bytes, body: _BodyWriter, dechunk: bool
) -> tuple[bool, str | None]:
    framing = _ChunkedFraming()
    pending = [memoryview(rest)] if rest else []
    source = _chunks(sock)
    while not framing.done:
        if not pending:
            piece = next(source, None)
            if piece is None:
                return False, framing.error
            pending.append(piece)
        data = pending.pop()
        consumed, payload = framing.feed(data)
        if dechunk:
            for span in payload:
                body.write(span)
        else:
            body.write(data[:consumed])
        if framing.error is not None:
            if not dechunk:
                # Keep what follows a framing error as it came, for the validator to judge.
                body.write(data[consumed:])
                _copy_to_close(sock, b"", body)
            return False, framing.error
    return True, None


class _ChunkedFraming:
    """Tracks HTTP/1.1 chunk framing over arbitrary pieces: payload spans and the body's end."""

    def __init__(self) -> None:
        self.state = "size"
        self.line = bytearray()
        self.remaining = 0
        self.done = False
        self.error: str | None = None

    def feed(self, data: memoryview) -> tuple[int, list[memoryview]]:
        """Consume up to the end of the body; return bytes consumed and payload spans."""
        payload: list[memoryview] = []
        pos = 0
        size = len(data)
        while pos < size and not self.done and self.error is None:
            if self.state == "data":
                take = min(self.remaining, size - pos)
                payload.append(data[pos : pos + take])
                pos += take
                self.remaining -= take
                if self.remaining == 0:
                    self.state = "data-end"
                continue
            window = bytes(data[pos : pos + _MAX_LINE])
            newline = window.find(b"\n")
            if newline < 0:
                self.line += window
                pos += len(window)
                if len(self.line) >= _MAX_LINE:
                    self.error = "chunk header line too long"
                continue
            self.line += data[pos : pos + newline + 1]
            pos += newline + 1
            line = bytes(self.line).rstrip(b"\r\n")
            self.line.clear()
            self._line(line)
        return pos, payload

    def _line(self, line: bytes) -> None:
        if self.state == "size":
            try:
                self.remaining = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.error = f"bad chunk size line {line[:40]!r}"
                return
            self.state = "data" if self.remaining else "trailer"
        elif self.state == "data-end":
            if line:
                self.error = "chunk data not followed by CRLF"
            self.state = "size"
        elif self.state == "trailer" and not line:
            self.done = True


def _plain(value: Any) -> Any:
    """getpeercert()'s nested tuples as JSON-friendly lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
