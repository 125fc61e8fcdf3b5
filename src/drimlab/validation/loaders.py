"""Loaders: turn a file a user gives into Exchanges, reading bodies as streams.

- a raw HTTP request (ANS format: request line with an absolute URL or a path, headers,
  blank line; LF or CRLF), read by `drimlab.dicomweb.http1` like every captured message;
- a raw HTTP response (status line, headers, blank line, body bytes kept on disk; a
  chunked body stays encoded and the validator removes the coding while streaming);
- a HAR 1.2 file (every entry; base64 bodies).

Unusable input (unreadable, not HTTP, cut inside its head, not HAR) raises InputError with one
line; anything parseable but wrong is kept (`request_problems` / `response_problems`) for the rules.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from drimlab.dicomweb.http1 import (
    MAX_CHUNK_LINE,
    EmptyMessage,
    Framing,
    HeadError,
    HeadReader,
    IncompleteHead,
    Kind,
    framing_of,
    is_chunk_size_line,
    parse_request_head,
    parse_response_head,
)
from drimlab.errors import InputError
from drimlab.exchange import Exchange, FileSlice
from drimlab.limits import CAPTURE_BYTES, HAR_BYTES, check_file_size, read_bounded


def _read_head(path: Path, kind: Kind) -> tuple[bytes, int]:
    """The head's bytes as in the file (its blank line included) and the file size."""
    reader = HeadReader(kind)
    size = check_file_size(path, CAPTURE_BYTES, "a captured HTTP message")
    try:
        with path.open("rb") as handle:
            while not reader.feed(chunk := handle.read(64 * 1024)):
                if not chunk:
                    reader.close()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except EmptyMessage:
        raise InputError(f"{path}: empty file, not an HTTP message") from None
    except IncompleteHead as exc:
        raise InputError(f"{path}: {exc}: a capture cut inside its headers?") from None
    except HeadError as exc:
        raise InputError(f"{path}: {exc}") from None
    return reader.head, size


def load_request(path: Path) -> Exchange:
    """Load a raw HTTP request file."""
    raw, size = _read_head(path, "request")
    head = parse_request_head(raw)
    body_at = len(raw)
    body = FileSlice(path, body_at) if size > body_at and _has_content(path, body_at) else None
    return Exchange(
        method=head.method,
        target=head.target,
        http_version=head.http_version,
        request_headers=head.headers,
        request_body=body,
        origin="file",
        label=path.name,
        request_problems=head.problems,
    )


def _has_content(path: Path, offset: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(offset)
        while chunk := handle.read(64 * 1024):
            if chunk.strip():
                return True
    return False


def load_response(path: Path, request: Exchange | None = None) -> Exchange:
    """Load a raw HTTP response file, attached to an optional request Exchange.

    Nothing after the header block means the body was not captured (body None), not an
    empty body: a real chunked or multipart body is never zero bytes.
    """
    raw, size = _read_head(path, "response")
    head = parse_response_head(raw)
    body_at = len(raw)
    framing, _ = framing_of(head, (request.method if request is not None else None) or "GET")
    # Tools such as curl (without --raw) save a chunked body already decoded: only a body
    # that starts with a chunk-size line is treated as still chunked.
    chunked = framing is Framing.CHUNKED and _starts_with_chunk_line(path, body_at)
    base = request or Exchange()
    return Exchange(
        method=base.method,
        target=base.target,
        request_headers=base.request_headers,
        credentials=base.credentials,
        request_body=base.request_body,
        request_problems=base.request_problems,
        http_version=head.http_version,
        status=head.status,
        reason=head.reason,
        response_headers=head.headers,
        response_body=FileSlice(path, body_at) if size > body_at else None,
        response_body_encoded=chunked,
        origin="file",
        label=path.name,
        response_problems=head.problems,
    )


def _starts_with_chunk_line(path: Path, offset: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(offset)
        line, newline, _ = handle.read(MAX_CHUNK_LINE + 2).partition(b"\n")
    return bool(newline) and is_chunk_size_line(line.removesuffix(b"\r"))


def _har_headers(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise InputError(f"{where}.headers is not a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f"{where}.headers holds an entry without a name")
        out.append((_wire(item["name"]), _wire(str(item.get("value", "")))))
    return tuple(out)


def _har_text(content: Any, where: str) -> bytes | None:
    if not isinstance(content, dict) or "text" not in content:
        return None
    text = content["text"]
    if not isinstance(text, str):
        raise InputError(f"{where}.text is not a string")
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"{where}.text is not valid base64") from None
    return _har_bytes(text)


def _har_bytes(text: str) -> bytes:
    """The bytes a HAR string stands for; a lone surrogate (valid JSON) is kept as its
    UTF-8 form, so a rule sees the bad bytes instead of the loader failing."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _wire(text: str) -> str:
    """A HAR string as the text of bytes read off the wire (undecodable bytes escaped, as
    the server simulator holds header values)."""
    return _har_bytes(text).decode("utf-8", "surrogateescape")


def load_har(path: Path) -> list[Exchange]:
    """Load every entry of a HAR 1.2 file as an Exchange."""
    raw = read_bounded(path, HAR_BYTES, "a HAR file")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not JSON: {str(exc)[:80]}") from None
    log = data.get("log") if isinstance(data, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{path}: not a HAR file (no log.entries list)")
    return [_har_entry(path, i, entry) for i, entry in enumerate(entries)]


def _har_entry(path: Path, index: int, entry: Any) -> Exchange:
    where = f"{path.name}: entry {index}"
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        raise InputError(f"{where} has no request object")
    request = entry["request"]
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not method or not url:
        raise InputError(f"{where}: request.method and request.url must be strings")
    response = entry.get("response")
    status: int | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes | None = None
    reason = ""
    if isinstance(response, dict):
        raw_status = response.get("status")
        if not isinstance(raw_status, int) or isinstance(raw_status, bool):
            raise InputError(f"{where}: response.status is not a number")
        if 100 <= raw_status <= 999:  # a HAR status 0 means no response was received
            status = raw_status
            reason = _wire(str(response.get("statusText", "")))
            response_headers = _har_headers(response.get("headers", []), f"{where}.response")
            response_body = _har_text(response.get("content"), f"{where}.response.content")
    timings: dict[str, float] = {}
    if isinstance(entry.get("time"), int | float) and not isinstance(entry.get("time"), bool):
        timings["total_ms"] = float(entry["time"])
    return Exchange(
        method=_wire(method),
        target=_wire(url),
        http_version=_wire(str(request.get("httpVersion") or "HTTP/1.1")),
        request_headers=_har_headers(request.get("headers", []), f"{where}.request"),
        request_body=_har_text(request.get("postData"), f"{where}.request.postData"),
        status=status,
        reason=reason,
        response_headers=response_headers,
        response_body=response_body,
        timings=timings,
        origin="file",
        label=f"{path.name}#{index}",
    )


def load_any(path: Path) -> list[Exchange]:
    """Sniff a file (HAR, response or request) and load it."""
    try:
        with path.open("rb") as handle:
            stripped = handle.read(4096).lstrip()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stripped.startswith(b"{"):
        return load_har(path)
    if stripped.startswith(b"HTTP/"):
        return [load_response(path)]
    return [load_request(path)]
