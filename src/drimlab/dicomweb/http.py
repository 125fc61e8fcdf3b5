"""HTTP/1.1 message helpers (RFC 9110, RFC 9112): header look-up and a push de-chunker."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, auto

from drimlab.dicomweb.media import is_token

RawHeaders = Sequence[tuple[str, str]]
MAX_CHUNK_LINE = 4096


def header_values(headers: RawHeaders, name: str) -> list[str]:
    """Every value of header `name` (case-insensitive), in the order received."""
    wanted = name.lower()
    return [value for key, value in headers if key.strip().lower() == wanted]


def header_value(headers: RawHeaders, name: str) -> str | None:
    """The first value of header `name`, or None."""
    values = header_values(headers, name)
    return values[0] if values else None


def is_valid_field_name(name: str) -> bool:
    """True when `name` is a token, as RFC 9110 §5.1 requires of field names."""
    return is_token(name)


class _ChunkState(Enum):
    SIZE = auto()
    DATA = auto()
    DATA_END = auto()
    TRAILER = auto()
    DONE = auto()
    BROKEN = auto()


class ChunkedDecoder:
    """Remove `Transfer-Encoding: chunked` framing from bytes fed in arbitrary pieces.

    `feed` returns payload bytes; `close` records a missing last chunk. Framing faults are
    kept in `problems` (the rest of the body is then passed through as payload).
    """

    def __init__(self) -> None:
        self._state = _ChunkState.SIZE
        self._buffer = bytearray()
        self._remaining = 0
        self.problems: list[str] = []

    @property
    def done(self) -> bool:
        return self._state is _ChunkState.DONE

    def feed(self, data: bytes) -> bytes:
        if self._state is _ChunkState.BROKEN:
            return data
        if self._state is _ChunkState.DONE:
            if data.strip():
                self.problems.append(f"{len(data)} bytes after the last chunk")
            return b""
        self._buffer += data
        out = bytearray()
        while self._step(out):
            pass
        return bytes(out)

    def close(self) -> bytes:
        if self._state is _ChunkState.BROKEN:
            rest = bytes(self._buffer)
            self._buffer.clear()
            return rest
        if self._state is not _ChunkState.DONE:
            self.problems.append("chunked body ends before its last (zero-size) chunk")
        return b""

    def _step(self, out: bytearray) -> bool:
        buf = self._buffer
        if self._state is _ChunkState.DATA:
            if not buf:
                return False
            take = min(self._remaining, len(buf))
            out += buf[:take]
            del buf[:take]
            self._remaining -= take
            if self._remaining == 0:
                self._state = _ChunkState.DATA_END
            return True
        eol = buf.find(b"\n")
        if eol < 0:
            if len(buf) > MAX_CHUNK_LINE:
                self._break("chunk line too long", out)
            return False
        line = bytes(buf[:eol]).rstrip(b"\r")
        del buf[: eol + 1]
        if self._state is _ChunkState.DATA_END:
            if line:
                self._break("chunk data not followed by CRLF", out, line + b"\r\n")
                return False
            self._state = _ChunkState.SIZE
            return True
        if self._state is _ChunkState.TRAILER:
            if not line:
                self._state = _ChunkState.DONE
                if buf.strip():
                    self.problems.append(f"{len(buf)} bytes after the last chunk")
                buf.clear()
                return False
            return True
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16) if size_text else -1
        except ValueError:
            size = -1
        if size < 0 or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
            self._break(f"bad chunk size line {line[:40]!r}", out, line + b"\n")
            return False
        if size == 0:
            self._state = _ChunkState.TRAILER
            return True
        self._remaining = size
        self._state = _ChunkState.DATA
        return True

    def _break(self, why: str, out: bytearray, pending: bytes = b"") -> None:
        self.problems.append(why)
        out += pending + self._buffer
        self._buffer.clear()
        self._state = _ChunkState.BROKEN
