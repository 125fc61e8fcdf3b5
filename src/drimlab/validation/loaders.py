"""Loaders: turn a file a user gives into Exchanges, reading bodies as streams.

- a raw HTTP request (ANS format: request line with an absolute URL or a path, headers,
  blank line; LF or CRLF);
- a raw HTTP response (status line, headers, blank line, body bytes kept on disk; a
  chunked body stays encoded and the validator removes the coding while streaming);
- a HAR 1.2 file (every entry; base64 bodies).

Unusable input (unreadable, not HTTP, not HAR) raises InputError with one line; anything
parseable but wrong is kept (`request_problems` / `response_problems`) for the rules.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

from drimlab.dicomweb.http import header_value
from drimlab.errors import InputError
from drimlab.exchange import Exchange, FileSlice

MAX_HEAD = 1024 * 1024
_REQUEST_LINE = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+)(?: +(HTTP/\d(?:\.\d)?))? *$")
_CHUNK_LINE = re.compile(rb"^[0-9A-Fa-f]{1,16}[ \t]*(?:;[^\r\n]*)?\r?\n")
_STATUS_LINE = re.compile(r"^(HTTP/\d(?:\.\d)?) +(\d{3})(?: +(.*))?$")


def _read_head(path: Path) -> tuple[str, int, int]:
    """The head text (start line + headers), the body offset and the file size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            data = b""
            while True:
                chunk = handle.read(64 * 1024)
                data += chunk
                ends = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0]
                if ends:
                    end = min(ends)
                    sep = 4 if data.startswith(b"\r\n\r\n", end) else 2
                    return data[:end].decode("latin-1"), end + sep, size
                if not chunk:
                    return data.decode("latin-1"), len(data), size
                if len(data) > MAX_HEAD:
                    raise InputError(f"{path}: header block larger than {MAX_HEAD} bytes")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parse_header_lines(lines: list[str]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    headers: list[tuple[str, str]] = []
    problems: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            problems.append(f"obsolete line folding: {line.strip()[:60]!r}")
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name:
            problems.append(f"header line without a name and colon: {line[:60]!r}")
            continue
        if name != name.strip():
            problems.append(f"whitespace around header name {name!r}")
        headers.append((name.strip(), value.strip(" \t")))
    return tuple(headers), tuple(problems)


def _split_head(path: Path, head: str) -> tuple[str, list[str]]:
    lines = head.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise InputError(f"{path}: empty file, not an HTTP message")
    return lines[0].rstrip("\r"), [line.rstrip("\r") for line in lines[1:]]


def load_request(path: Path) -> Exchange:
    """Load a raw HTTP request file."""
    head, body_at, size = _read_head(path)
    first, lines = _split_head(path, head)
    match = _REQUEST_LINE.match(first)
    if not match:
        raise InputError(f"{path}: first line is not an HTTP request line: {first[:40]!r}")
    headers, problems = _parse_header_lines(lines)
    body = FileSlice(path, body_at) if size > body_at and _has_content(path, body_at) else None
    return Exchange(
        method=match.group(1),
        target=match.group(2),
        http_version=match.group(3) or "HTTP/1.1",
        request_headers=headers,
        request_body=body,
        origin="file",
        label=path.name,
        request_problems=problems,
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
    head, body_at, size = _read_head(path)
    first, lines = _split_head(path, head)
    match = _STATUS_LINE.match(first)
    if not match:
        raise InputError(f"{path}: first line is not an HTTP status line: {first[:40]!r}")
    headers, problems = _parse_header_lines(lines)
    encoding = (header_value(headers, "Transfer-Encoding") or "").lower()
    # Tools such as curl (without --raw) save a chunked body already decoded: only a body
    # that starts with a chunk-size line is treated as still chunked.
    chunked = "chunked" in encoding and _starts_with_chunk_line(path, body_at)
    base = request or Exchange()
    return Exchange(
        method=base.method,
        target=base.target,
        request_headers=base.request_headers,
        request_body=base.request_body,
        request_problems=base.request_problems,
        http_version=match.group(1),
        status=int(match.group(2)),
        reason=(match.group(3) or "").strip(),
        response_headers=headers,
        response_body=FileSlice(path, body_at) if size > body_at else None,
        response_body_encoded=chunked,
        origin="file",
        label=path.name,
        response_problems=problems,
    )


def _starts_with_chunk_line(path: Path, offset: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(offset)
        return bool(_CHUNK_LINE.match(handle.read(256)))


def _har_headers(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise InputError(f"{where}.headers is not a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InputError(f"{where}.headers holds an entry without a name")
        out.append((item["name"], str(item.get("value", ""))))
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
    return text.encode("utf-8", "surrogateescape")


def load_har(path: Path) -> list[Exchange]:
    """Load every entry of a HAR 1.2 file as an Exchange."""
    try:
        with path.open("rb") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
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
            reason = str(response.get("statusText", ""))
            response_headers = _har_headers(response.get("headers", []), f"{where}.response")
            response_body = _har_text(response.get("content"), f"{where}.response.content")
    timings: dict[str, float] = {}
    if isinstance(entry.get("time"), int | float) and not isinstance(entry.get("time"), bool):
        timings["total_ms"] = float(entry["time"])
    return Exchange(
        method=method,
        target=url,
        http_version=str(request.get("httpVersion") or "HTTP/1.1"),
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
