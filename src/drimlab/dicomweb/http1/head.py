"""HTTP/1.1 message heads (RFC 9112 §2-§5): where a head ends, and what it says, leniently.

`HeadReader` is fed bytes in any pieces and says where the head ends (the bytes after it are
the body's); `parse_request_head` / `parse_response_head` read the start line and the header
lines. Headers are kept raw and in order, as received: the name as written, the value with its
surrounding whitespace removed. Each deviation becomes a `Problem` in `problems` and the head
is read the way a lenient recipient would; only bytes that are not an HTTP head at all raise a
`HeadError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from drimlab.dicomweb.http1.problems import (
    EmptyMessage,
    HeadTooLarge,
    IncompleteHead,
    NotHttp,
    Problem,
    ProblemCode,
    problem,
)
from drimlab.dicomweb.media import is_token

Kind = Literal["request", "response"]
Headers = tuple[tuple[str, str], ...]

MAX_HEAD = 1024 * 1024
# nginx's default buffers (large_client_header_buffers, proxy_buffer_size) hold 8 KiB heads.
LONG_HEAD = 8 * 1024
# Fields that take one value: a second line makes the message ambiguous (RFC 9110 §5.3).
SINGLE_VALUE_FIELDS: dict[Kind, tuple[str, ...]] = {
    "request": ("host", "content-type"),
    "response": ("content-type",),
}

_REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) +(\S+)(?: +(HTTP/\d(?:\.\d)?))? *")
_STATUS_LINE = re.compile(r"(HTTP/\d(?:\.\d)?) +(\d{3})(?: +(.*))?")
_END_OF_HEAD = re.compile(rb"\n\r?\n")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NON_ASCII = re.compile(r"[\x80-\xff]")
CREDENTIALS = frozenset({"authorization", "proxy-authorization"})
WITHHELD = "(credentials withheld)"
_DIGITS = re.compile(r"[0-9]+")
_LENGTH_LIST = re.compile(r"[0-9]+(?:[ \t]*,[ \t]*[0-9]+)*")


@dataclass(frozen=True)
class RequestHead:
    """A request line and its headers, with what was wrong in them."""

    method: str
    target: str
    http_version: str
    headers: Headers
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class ResponseHead:
    """A status line and its headers, with what was wrong in them."""

    http_version: str
    status: int
    reason: str
    headers: Headers
    problems: tuple[Problem, ...] = ()


class HeadReader:
    """Collects a message head from bytes fed in any pieces, up to its blank line.

    `feed` returns True once the head is complete; `head` then holds its bytes as received
    (blank lines before the start line and the terminating blank line included) and `rest`
    the bytes after it. `close` says the input ended: it raises the `HeadError` explaining why
    no head was found. A start line that is not HTTP raises `NotHttp` as soon as it is seen.
    """

    def __init__(self, kind: Kind, max_size: int = MAX_HEAD) -> None:
        self.kind: Kind = kind
        self.max_size = max_size
        self.head = b""
        self.rest = b""
        self.done = False
        self._buffer = bytearray()
        self._start: int | None = None  # where the start line begins
        self._scan = 0  # where the search for the blank line resumes
        self._start_checked = False

    def feed(self, data: bytes | bytearray | memoryview) -> bool:
        """Take the next bytes; True when the head is complete."""
        if self.done:
            raise ValueError("the head is already complete: its next bytes are in `rest`")
        buffer = self._buffer
        buffer += data
        if self._start is None:
            start = self._scan
            while start < len(buffer) and buffer[start] in b"\r\n":
                start += 1  # RFC 9112 §2.2: blank lines before the start line are skipped
            self._scan = start
            if start == len(buffer):
                self._check_size()
                return False
            self._start = start
        if not self._start_checked:
            newline = buffer.find(b"\n", self._scan)
            if newline < 0:
                self._scan = len(buffer)
                self._check_size()
                return False
            self._check_start_line(bytes(buffer[self._start : newline]))
            self._scan = newline
        found = _END_OF_HEAD.search(buffer, self._scan)
        if found is None:
            self._scan = max(self._scan, len(buffer) - 2)
            self._check_size()
            return False
        self.head = bytes(buffer[: found.end()])
        self.rest = bytes(buffer[found.end() :])
        self.done = True
        buffer.clear()
        return True

    def close(self) -> None:
        """The input ended: nothing happens when the head is complete, else a HeadError."""
        if self.done:
            return
        if self._start is None:
            raise EmptyMessage
        if not self._start_checked:
            self._check_start_line(bytes(self._buffer[self._start :]))
        raise IncompleteHead(len(self._buffer))

    def _check_size(self) -> None:
        if len(self._buffer) > self.max_size:
            raise HeadTooLarge(self.max_size)

    def _check_start_line(self, line: bytes) -> None:
        text = line.decode("latin-1").removesuffix("\r")
        pattern = _REQUEST_LINE if self.kind == "request" else _STATUS_LINE
        if not pattern.fullmatch(text):
            raise NotHttp("request" if self.kind == "request" else "status", line)
        self._start_checked = True


def read_head(kind: Kind, data: bytes) -> tuple[bytes, bytes]:
    """Split whole message bytes into its head and the rest (HeadError when there is no head)."""
    reader = HeadReader(kind)
    if not reader.feed(data):
        reader.close()
    return reader.head, reader.rest


def parse_request_head(raw: bytes) -> RequestHead:
    """Read a request head (with or without its blank line); NotHttp if it is not one."""
    start, lines, problems = _lines(raw, "request")
    match = _REQUEST_LINE.fullmatch(start)
    if match is None:
        raise NotHttp("request", start.encode("latin-1"))
    headers = _header_fields(lines, problems)
    _field_problems("request", headers, problems, len(raw))
    return RequestHead(
        method=match.group(1),
        target=match.group(2),
        http_version=match.group(3) or "HTTP/1.1",
        headers=headers,
        problems=tuple(problems),
    )


def parse_response_head(raw: bytes) -> ResponseHead:
    """Read a response head (with or without its blank line); NotHttp if it is not one."""
    start, lines, problems = _lines(raw, "response")
    match = _STATUS_LINE.fullmatch(start)
    if match is None:
        raise NotHttp("status", start.encode("latin-1"))
    headers = _header_fields(lines, problems)
    _field_problems("response", headers, problems, len(raw))
    return ResponseHead(
        http_version=match.group(1),
        status=int(match.group(2)),
        reason=(match.group(3) or "").strip(),
        headers=headers,
        problems=tuple(problems),
    )


def _lines(raw: bytes, kind: Kind) -> tuple[str, list[str], list[Problem]]:
    """The start line, the header lines (line endings removed) and the line-ending problem."""
    pieces = raw.decode("latin-1").lstrip("\r\n").split("\n")
    if pieces == [""]:
        raise EmptyMessage
    lines: list[str] = []
    crlf = bare = 0
    for index, piece in enumerate(pieces):
        terminated = index < len(pieces) - 1
        if terminated:
            if piece.endswith("\r"):
                crlf += 1
            else:
                bare += 1
        line = piece.removesuffix("\r") if terminated else piece
        if not line and index > 0:
            break  # the blank line that ends the head
        lines.append(line)
    problems: list[Problem] = []
    if crlf and bare:
        # A head written with LF throughout is a message's text form (files, samples) and what
        # RFC 9112 §2.2 lets a recipient read; a bare LF among CRLF lines is a sender's slip.
        problems.append(problem(ProblemCode.BARE_LF, bare, crlf + bare))
    return lines[0], lines[1:], problems


def _header_fields(lines: list[str], problems: list[Problem]) -> Headers:
    headers: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            problems.append(problem(ProblemCode.OBS_FOLD, line.strip()[:60]))
            if headers:  # RFC 9112 §5.2: a recipient replaces the fold with a space
                name, value = headers[-1]
                headers[-1] = (name, (value + " " + line.strip(" \t")).strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        if not colon:
            problems.append(problem(ProblemCode.NO_COLON, line[:60]))
            continue
        if not name.strip(" \t"):
            problems.append(problem(ProblemCode.EMPTY_NAME, line[:60]))
            continue
        if name != name.rstrip(" \t"):
            problems.append(problem(ProblemCode.SPACE_BEFORE_COLON, name))
            name = name.rstrip(" \t")
        elif not is_token(name):
            problems.append(problem(ProblemCode.BAD_NAME, name[:60]))
        headers.append((name, value.strip(" \t")))
    for name, value in headers:
        # a credential is never quoted: it would be stored and printed with the problem
        sample = WITHHELD if name.strip().lower() in CREDENTIALS else value[:60]
        if _CONTROL.search(value):
            problems.append(problem(ProblemCode.CONTROL_IN_VALUE, name, sample))
        elif _NON_ASCII.search(value):
            problems.append(problem(ProblemCode.NON_ASCII_VALUE, name, sample))
    return tuple(headers)


def _field_problems(kind: Kind, headers: Headers, problems: list[Problem], size: int) -> None:
    """Problems of the header block as a whole: repeated fields, framing fields, size."""
    counts: dict[str, int] = {}
    written: dict[str, str] = {}
    for name, _ in headers:
        key = name.lower()
        counts[key] = counts.get(key, 0) + 1
        written.setdefault(key, name)
    for key in SINGLE_VALUE_FIELDS[kind]:
        if counts.get(key, 0) > 1:
            problems.append(problem(ProblemCode.DUPLICATE_FIELD, counts[key], written[key]))
    lengths = [value for name, value in headers if name.lower() == "content-length"]
    codings = transfer_codings(headers)
    if lengths:
        problems.extend(_content_length_problems(lengths))
        if codings:
            te = ", ".join(value for name, value in headers if name.lower() == "transfer-encoding")
            problems.append(
                problem(ProblemCode.CONTENT_LENGTH_WITH_TRANSFER_ENCODING, ", ".join(lengths), te)
            )
    if codings.count("chunked") > 1:
        problems.append(problem(ProblemCode.CHUNKED_TWICE, ", ".join(codings)))
    # A response may end a non-chunked coding at the close; a request cannot (RFC 9112 §6.3).
    if kind == "request" and codings and codings[-1] != "chunked":
        problems.append(problem(ProblemCode.CHUNKED_NOT_LAST, ", ".join(codings)))
    if size > LONG_HEAD:
        problems.append(problem(ProblemCode.LONG_HEAD, size, LONG_HEAD))


def _content_length_problems(values: list[str]) -> list[Problem]:
    items = [item.strip(" \t") for value in values for item in value.split(",")]
    bad = next((v for v in values if not _LENGTH_LIST.fullmatch(v)), None)
    if bad is not None:
        return [problem(ProblemCode.CONTENT_LENGTH_INVALID, bad[:60])]
    if len({int(item) for item in items}) > 1:
        return [problem(ProblemCode.CONTENT_LENGTH_CONFLICT, ", ".join(items)[:80])]
    if len(items) > 1:
        return [problem(ProblemCode.CONTENT_LENGTH_REPEATED, ", ".join(items)[:80])]
    return []


def transfer_codings(headers: Headers) -> list[str]:
    """The transfer codings applied, in order, lower-cased and without parameters."""
    return [
        coding.split(";", 1)[0].strip(" \t").lower()
        for name, value in headers
        if name.lower() == "transfer-encoding"
        for coding in value.split(",")
        if coding.strip(" \t")
    ]


def content_length(headers: Headers) -> int | None:
    """The body length Content-Length gives, or None when absent, invalid or conflicting."""
    values = [value for name, value in headers if name.lower() == "content-length"]
    items = {item.strip(" \t") for value in values for item in value.split(",")}
    if len(items) != 1:
        return None
    (item,) = items
    return int(item) if _DIGITS.fullmatch(item) else None
