"""Capture a live HTTP response exactly as the server sent it, streamed to a file.

The file is in the raw response format drimlab's loader reads: the status line and header
lines byte for byte as received, the blank line, then the body. By default the body is kept
as it came on the wire (chunk framing included: the loader de-chunks it); `dechunk=True`
writes the payload only. `Capture.framing` / `Capture.dechunked` (and the optional JSON
sidecar) record which. The head and the body's framing are read by `drimlab.dicomweb.http1`, so
`Capture.problems` are those the file loader and the client simulator report for the same
bytes. Nothing is held whole in memory, and a failed capture leaves no file.
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
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from drimlab.dicomweb.http1 import (
    BodyFramer,
    ChunkedDecoder,
    Framing,
    HeadError,
    HeadReader,
    framing_of,
    parse_response_head,
)
from drimlab.errors import InputError

_CHUNK = 1 << 20


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
    problems: tuple[str, ...] = field(default=())
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
            "framing": str(self.framing),
            "dechunked": self.dechunked,
            "complete": self.complete,
            "body_size": self.body_size,
            "body_sha256": self.body_sha256,
            "elapsed_seconds": self.elapsed_seconds,
            "peer_certificate": self.peer_certificate,
            "tls_version": self.tls_version,
            "problems": list(self.problems),
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
    reader = HeadReader("response")
    try:
        while not reader.feed(data := sock.recv(65536)):
            if not data:
                reader.close()
        head = parse_response_head(reader.head)
    except HeadError as exc:
        raise InputError(f"{url}: not a usable HTTP response: {exc}") from None
    out.write(reader.head)
    framing, length = framing_of(head, method)
    framer = BodyFramer(framing, length)
    decoder = ChunkedDecoder(after_fault=False) if dechunk and framing is Framing.CHUNKED else None
    body = _BodyWriter(out)
    pending = reader.rest
    while not framer.ended:
        if not pending:
            pending = sock.recv(_CHUNK)
            if not pending:
                framer.close()
                break
        piece, _ = framer.feed(pending)
        if decoder is not None:
            body.write(decoder.feed(pending if len(piece) == len(pending) else bytes(piece)))
        else:
            body.write(piece)
        pending = b""
        if decoder is not None and framer.broken:
            break  # the payload is lost after a framing fault: stop there
    notes: list[str] = list(framer.problems)
    if not framer.complete:
        notes.append("the connection closed before the end of the body")
    return {
        "http_version": head.http_version,
        "status": head.status,
        "reason": head.reason,
        "headers": head.headers,
        "framing": framing,
        "dechunked": decoder is not None,
        "complete": framer.complete,
        "body_size": body.size,
        "body_sha256": body.sha256.hexdigest(),
        "problems": (*head.problems, *framer.problems),
        "notes": tuple(notes),
    }


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


def _plain(value: Any) -> Any:
    """getpeercert()'s nested tuples as JSON-friendly lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
