"""Streaming multipart/related (RFC 2046 §5.1, RFC 2387): a push decoder and a lazy encoder.

The decoder is fed arbitrary chunks and returns events (`PartStart`, `PartData`, `PartEnd`);
it holds at most one delimiter's length of body plus one part's header block, so a body of
any size decodes in bounded memory. Deviations (junk after a delimiter, bad header lines,
a missing close delimiter) are recorded in `problems` rather than raised: a validator
reports them. The encoder yields the bytes of a body from part headers and chunk iterables.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum, auto

MAX_HEADER_BLOCK = 64 * 1024
SLOW_PIECE = 16 * 1024
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PartStart:
    """A part begins; its header lines as (name, value), names as written."""

    index: int
    headers: Headers


@dataclass(frozen=True)
class PartData:
    """Some bytes of the current part's body.

    `data` may be a read-only memoryview over a chunk the caller fed (never over a buffer
    the decoder reuses): it stays valid, and `bytes(data)` copies it when needed.
    """

    index: int
    data: bytes | memoryview


@dataclass(frozen=True)
class PartEnd:
    """The current part ended at a delimiter; `size` is its body length."""

    index: int
    size: int


Event = PartStart | PartData | PartEnd


class _State(Enum):
    PREAMBLE = auto()
    AFTER_DELIMITER = auto()
    HEADERS = auto()
    BODY = auto()
    EPILOGUE = auto()
    BROKEN = auto()


class MultipartDecoder:
    """Push parser: `feed(chunk)` and `close()` return events; `problems` lists deviations."""

    def __init__(self, boundary: str) -> None:
        self.boundary = boundary
        # A virtual CRLF before the body lets the first delimiter match like the others.
        self._delimiter = b"\r\n--" + boundary.encode("latin-1", "replace")
        self._buffer = bytearray(b"\r\n")
        self._state = _State.PREAMBLE
        self._pos = 0
        self._index = -1
        self._part_size = 0
        self._preamble_seen = 0
        self.epilogue_size = 0
        self.closed_properly = False
        self.delimiter_found = False
        self.problems: list[str] = []
        self.parts = 0

    @property
    def preamble_size(self) -> int:
        """Bytes before the first delimiter (the virtual CRLF excluded)."""
        return max(0, self._preamble_seen - 2)

    @property
    def in_part(self) -> bool:
        return self._state in (_State.HEADERS, _State.BODY)

    def feed(self, chunk: bytes) -> list[Event]:
        """Consume a chunk of body bytes; return the events it completes."""
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)  # part data may be views of the chunk: it must not change
        events: list[Event] = []
        offset = 0
        while offset < len(chunk):
            if self._state in (_State.EPILOGUE, _State.BROKEN):
                self.epilogue_size += len(chunk) - offset
                break
            if self._state is _State.BODY:
                used = self._fast_body(chunk, offset, events)
                if used:
                    offset += used
                    continue
            # Delimiter lines and header blocks go through the buffer, a bounded piece at a time.
            piece = chunk[offset : offset + SLOW_PIECE]
            offset += len(piece)
            self._buffer += piece
            self._pos = 0
            while self._step(events):
                pass
            del self._buffer[: self._pos]
            self._pos = 0
        return events

    def _fast_body(self, chunk: bytes, offset: int, events: list[Event]) -> int:
        """Inside a part: pass body bytes on as views of the chunk, without copying them.

        Returns how many bytes of the chunk were consumed (0: let the buffer handle them).
        """
        delim = self._delimiter
        keep = len(delim) - 1
        if len(chunk) - offset <= 2 * len(delim) or len(self._buffer) > keep:
            return 0
        tail = bytes(self._buffer)
        if delim in tail + chunk[offset : offset + keep]:
            return 0  # a delimiter straddles the previous chunk and this one
        view = memoryview(chunk)
        if tail:
            events.append(PartData(self._index, tail))
            self._part_size += len(tail)
            self._buffer.clear()
        at = chunk.find(delim, offset)
        if at < 0:
            end = len(chunk) - keep
            events.append(PartData(self._index, view[offset:end]))
            self._part_size += end - offset
            self._buffer += chunk[end:]
            return len(chunk) - offset
        if at > offset:
            events.append(PartData(self._index, view[offset:at]))
            self._part_size += at - offset
        events.append(PartEnd(self._index, self._part_size))
        self._state = _State.AFTER_DELIMITER
        return at + len(delim) - offset

    def close(self) -> list[Event]:
        """End of body: flush and record truncation when the close delimiter never came."""
        events: list[Event] = []
        if self._state is _State.PREAMBLE:
            self._preamble_seen += len(self._buffer)
            self.problems.append(f"no delimiter --{self.boundary} found in the body")
        elif self._state in (_State.HEADERS, _State.BODY, _State.AFTER_DELIMITER):
            if self._state is _State.BODY and self._buffer:
                events.append(PartData(self._index, bytes(self._buffer)))
                self._part_size += len(self._buffer)
            self.problems.append(
                f"body ends inside part {self._index} without the close delimiter "
                f"--{self.boundary}-- (truncated)"
            )
        self._buffer.clear()
        self._state = _State.EPILOGUE if self.closed_properly else _State.BROKEN
        return events

    def _take(self, start: int, end: int) -> bytes:
        """A copy of buffer[start:end] (one copy, through a released view)."""
        with memoryview(self._buffer) as view:
            return bytes(view[start:end])

    def _step(self, events: list[Event]) -> bool:
        buf = self._buffer
        delim = self._delimiter
        pos = self._pos
        if self._state is _State.PREAMBLE:
            at = buf.find(delim, pos)
            if at < 0:
                new_pos = max(pos, len(buf) - (len(delim) - 1))
                self._preamble_seen += new_pos - pos
                self._pos = new_pos
                return False
            self._preamble_seen += at - pos
            self.delimiter_found = True
            self._pos = at + len(delim)
            self._state = _State.AFTER_DELIMITER
            return True
        if self._state is _State.AFTER_DELIMITER:
            return self._after_delimiter()
        if self._state is _State.HEADERS:
            return self._headers(events)
        if self._state is _State.BODY:
            at = buf.find(delim, pos)
            if at < 0:
                new_pos = len(buf) - (len(delim) - 1)
                if new_pos > pos:
                    events.append(PartData(self._index, self._take(pos, new_pos)))
                    self._part_size += new_pos - pos
                    self._pos = new_pos
                return False
            if at > pos:
                events.append(PartData(self._index, self._take(pos, at)))
                self._part_size += at - pos
            events.append(PartEnd(self._index, self._part_size))
            self._pos = at + len(delim)
            self._state = _State.AFTER_DELIMITER
            return True
        return False

    def _after_delimiter(self) -> bool:
        buf = self._buffer
        pos = self._pos
        if len(buf) - pos < 2:
            return False
        if buf[pos : pos + 2] == b"--":
            self.closed_properly = True
            self._state = _State.EPILOGUE
            self.epilogue_size += len(buf) - pos - 2
            self._pos = len(buf)
            return False
        eol = buf.find(b"\n", pos)
        if eol < 0:
            if len(buf) - pos > MAX_HEADER_BLOCK:
                self._break("no line end after a delimiter")
            return False
        line = bytes(buf[pos:eol])
        if line.endswith(b"\r"):
            line = line[:-1]
        else:
            self.problems.append(f"bare LF after delimiter of part {self._index + 1}")
        if line.strip(b" \t"):
            self.problems.append(
                f"text {line[:40]!r} after the delimiter of part {self._index + 1}"
            )
        self._pos = eol + 1
        self._index += 1
        self.parts += 1
        self._part_size = 0
        self._state = _State.HEADERS
        return True

    def _headers(self, events: list[Event]) -> bool:
        buf = self._buffer
        pos = self._pos
        if buf[pos : pos + 2] == b"\r\n":
            end, skip = pos, 2
        else:
            end = buf.find(b"\r\n\r\n", pos)
            skip = 4
            if end < 0:
                if len(buf) - pos > MAX_HEADER_BLOCK:
                    self._break(f"part {self._index} header block exceeds {MAX_HEADER_BLOCK} bytes")
                return False
        block = bytes(buf[pos:end]).decode("latin-1")
        self._pos = end + skip
        headers: list[tuple[str, str]] = []
        for line in block.split("\r\n") if block else []:
            name, colon, value = line.partition(":")
            if not colon or not name.strip() or name != name.strip():
                self.problems.append(f"part {self._index}: malformed header line {line[:60]!r}")
                continue
            headers.append((name, value.strip()))
        events.append(PartStart(self._index, tuple(headers)))
        self._state = _State.BODY
        return True

    def _break(self, why: str) -> None:
        self.problems.append(why)
        self._pos = len(self._buffer)
        self._state = _State.BROKEN


def new_boundary() -> str:
    """A fresh random boundary made only of token characters (never needs quoting)."""
    return f"drimlab-{secrets.token_hex(16)}"


def part_head(boundary: str, headers: Sequence[tuple[str, str]], *, first: bool) -> bytes:
    """The delimiter line and header block that precede a part's body."""
    lead = b"" if first else b"\r\n"
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return lead + f"--{boundary}\r\n{lines}\r\n".encode("latin-1")


def close_delimiter(boundary: str, *, any_part: bool) -> bytes:
    """The close delimiter that ends a body."""
    return (b"\r\n" if any_part else b"") + f"--{boundary}--\r\n".encode("latin-1")


def encoded_length(boundary: str, parts: Sequence[tuple[Sequence[tuple[str, str]], int]]) -> int:
    """The exact byte length `encode` yields, from part headers and body sizes (Content-Length)."""
    total = sum(len(part_head(boundary, h, first=i == 0)) + n for i, (h, n) in enumerate(parts))
    return total + len(close_delimiter(boundary, any_part=bool(parts)))


def encode(
    boundary: str, parts: Iterable[tuple[Sequence[tuple[str, str]], Iterable[bytes]]]
) -> Iterator[bytes]:
    """Yield a multipart body lazily: each part's head and chunks, then the close delimiter."""
    first = True
    for headers, chunks in parts:
        yield part_head(boundary, headers, first=first)
        first = False
        for chunk in chunks:
            if chunk:
                yield chunk
    yield close_delimiter(boundary, any_part=not first)
