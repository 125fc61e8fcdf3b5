"""The chunked transfer coding (RFC 9112 §7.1): one scanner, used to frame and to de-chunk.

`ChunkScanner` follows chunk framing over bytes fed in any pieces: it finds the payload spans
(as views of the bytes fed, never copied) and the end of the body, and records each framing
fault as a `Problem`. `BodyFramer` uses it to know where a chunked body ends on the wire;
`ChunkedDecoder` to hand on the payload. Both report the same problems for the same bytes.

After a fault the framing is lost: the rest of the body is what comes until the connection
closes, and a de-chunker passes it on as payload for the validator to make what it can of.
"""

from __future__ import annotations

import re
from enum import Enum, auto

from drimlab.dicomweb.http1.problems import Problem, ProblemCode, problem

MAX_CHUNK_LINE = 8192
_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


def is_chunk_size_line(line: bytes) -> bool:
    """True when `line` (without its line ending) is a chunk-size line, extensions allowed."""
    return bool(_SIZE.fullmatch(line.split(b";", 1)[0].strip()))


class _State(Enum):
    SIZE = auto()
    DATA = auto()
    DATA_END = auto()
    TRAILER = auto()
    DONE = auto()
    BROKEN = auto()


class ChunkScanner:
    """Follows chunk framing: payload spans, the end of the last chunk, framing faults."""

    def __init__(self) -> None:
        self._state = _State.SIZE
        self._line = bytearray()
        self._remaining = 0
        self._ended = False
        self.problems: list[Problem] = []
        # The line that broke the framing, LF-terminated: a de-chunker hands it on as payload.
        self.replay = b""

    @property
    def done(self) -> bool:
        """The last chunk and the trailer section have been read."""
        return self._state is _State.DONE

    @property
    def broken(self) -> bool:
        """A framing fault was met: the body now runs until the connection closes."""
        return self._state is _State.BROKEN

    def scan(self, data: bytes, spans: list[memoryview] | None = None) -> int:
        """Consume `data` up to the end of the body (or a fault); return how many bytes it took.

        Payload bytes are appended to `spans` as views of `data` when a list is given.
        """
        view = memoryview(data)
        pos, size = 0, len(data)
        while pos < size and self._state not in (_State.DONE, _State.BROKEN):
            if self._state is _State.DATA:
                take = min(self._remaining, size - pos)
                if spans is not None:
                    spans.append(view[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _State.DATA_END
                continue
            room = MAX_CHUNK_LINE + 1 - len(self._line)
            newline = data.find(b"\n", pos, pos + room)
            if newline < 0:
                end = min(size, pos + room)
                self._line += view[pos:end]
                pos = end
                if len(self._line) > MAX_CHUNK_LINE:
                    self.replay = bytes(self._line)
                    self._break(ProblemCode.CHUNK_LINE_TOO_LONG, MAX_CHUNK_LINE)
                continue
            self._line += view[pos:newline]
            pos = newline + 1
            line = bytes(self._line).removesuffix(b"\r")
            self._line.clear()
            self._on_line(line)
        return pos

    def end(self) -> None:
        """The input ended: a body without its last chunk is a problem."""
        if self._state not in (_State.DONE, _State.BROKEN) and not self._ended:
            self.problems.append(problem(ProblemCode.LAST_CHUNK_MISSING))
        self._ended = True

    def _on_line(self, line: bytes) -> None:
        if self._state is _State.SIZE:
            # chunk-size [ chunk-ext ]: extensions are allowed and ignored (RFC 9112 §7.1.1)
            if not is_chunk_size_line(line):
                self._break(ProblemCode.CHUNK_SIZE, line[:40])
                self.replay = line + b"\n"
                return
            self._remaining = int(line.split(b";", 1)[0], 16)
            self._state = _State.DATA if self._remaining else _State.TRAILER
        elif self._state is _State.DATA_END:
            if line:
                self._break(ProblemCode.CHUNK_DATA_CRLF)
                self.replay = line + b"\n"
                return
            self._state = _State.SIZE
        elif not line:
            self._state = _State.DONE
        else:
            name, colon, _ = line.partition(b":")
            if not colon or not name.strip():
                self.problems.append(problem(ProblemCode.CHUNK_TRAILER, line[:60]))

    def _break(self, code: ProblemCode, *args: object) -> None:
        self.problems.append(problem(code, *args))
        self._line.clear()
        self._state = _State.BROKEN


class ChunkedDecoder:
    """Remove `Transfer-Encoding: chunked` framing from bytes fed in arbitrary pieces.

    `feed` returns payload bytes; `close` records a missing last chunk. Framing faults are
    kept in `problems`; after one, the rest of the body (the faulty line first) is passed
    through as payload, or dropped when `after_fault` is False.
    """

    def __init__(self, *, after_fault: bool = True) -> None:
        self._scanner = ChunkScanner()
        self._after_fault = after_fault
        self.problems = self._scanner.problems

    @property
    def done(self) -> bool:
        return self._scanner.done

    def feed(self, data: bytes) -> bytes:
        scanner = self._scanner
        if scanner.broken:
            return bytes(data) if self._after_fault else b""
        if scanner.done:
            self._after_last_chunk(data)
            return b""
        spans: list[memoryview] = []
        used = scanner.scan(data, spans)
        out = b"".join(spans)
        if scanner.broken:
            return out + scanner.replay + data[used:] if self._after_fault else out
        if scanner.done:
            self._after_last_chunk(data[used:])
        return out

    def close(self) -> bytes:
        """End of the body; returns b"" (nothing is held back)."""
        self._scanner.end()
        return b""

    def _after_last_chunk(self, data: bytes) -> None:
        if data.strip():
            self.problems.append(problem(ProblemCode.AFTER_LAST_CHUNK, len(data)))
