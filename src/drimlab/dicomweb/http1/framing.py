"""Body framing (RFC 9112 §6.3): how a body is delimited, and a push framer that finds its end.

`framing_of` decides from a parsed head; `BodyFramer` is then fed the wire bytes that follow
the head, in any pieces, and splits each piece into the bytes of the body and the bytes past
its end (the next message on a kept-alive connection) — as views, without copying, and
without ever holding the body. A relay forwards the body bytes unchanged; a client hands them
to the validator; `problems` says what was wrong with the framing.
"""

from __future__ import annotations

from enum import StrEnum

from drimlab.dicomweb.http1.chunked import ChunkScanner
from drimlab.dicomweb.http1.head import RequestHead, ResponseHead, content_length, transfer_codings
from drimlab.dicomweb.http1.problems import Problem, ProblemCode, problem


class Framing(StrEnum):
    """How a message body is delimited."""

    NONE = "none"  # no body at all (HEAD, 1xx, 204, 304; a request without framing fields)
    CONTENT_LENGTH = "content-length"
    CHUNKED = "chunked"
    CLOSE = "close"  # the body runs until the connection closes


def framing_of(head: RequestHead | ResponseHead, method: str = "GET") -> tuple[Framing, int]:
    """How the body after `head` is delimited, and its length for Content-Length framing.

    `method` is the request's, for a response (a response to HEAD has no body). Framing
    fields that cannot be trusted (invalid or conflicting Content-Length, a request whose
    last transfer coding is not chunked) leave the body to the close: the head's problems say
    why.
    """
    if isinstance(head, ResponseHead) and (
        method.upper() == "HEAD" or head.status < 200 or head.status in (204, 304)
    ):
        return Framing.NONE, 0
    codings = transfer_codings(head.headers)
    if codings:
        return (Framing.CHUNKED if codings[-1] == "chunked" else Framing.CLOSE), 0
    if any(name.lower() == "content-length" for name, _ in head.headers):
        length = content_length(head.headers)
        return (Framing.CLOSE, 0) if length is None else (Framing.CONTENT_LENGTH, length)
    return (Framing.NONE, 0) if isinstance(head, RequestHead) else (Framing.CLOSE, 0)


class BodyFramer:
    """Finds where a body ends in the wire bytes after its head, fed in any pieces.

    `feed` returns (body, rest): the bytes of the piece that belong to the body and those
    past its end. `close` says the input ended. `ended` is True once no more body bytes can
    come; `complete` when the body ended as its framing says (all of Content-Length, the last
    chunk, or the close for a close-delimited body). After a chunk framing fault (`broken`)
    the body runs until the close.
    """

    def __init__(self, framing: Framing, length: int = 0) -> None:
        self.framing = framing
        self.length = length
        self.size = 0
        self.problems: list[Problem] = []
        self._remaining = length
        self._chunks = ChunkScanner() if framing is Framing.CHUNKED else None
        if self._chunks is not None:
            self.problems = self._chunks.problems
        self._closed = False
        self.ended = framing is Framing.NONE or (framing is Framing.CONTENT_LENGTH and not length)

    @property
    def broken(self) -> bool:
        return self._chunks is not None and self._chunks.broken

    @property
    def complete(self) -> bool:
        if self.framing is Framing.CHUNKED:
            return self._chunks is not None and self._chunks.done
        if self.framing is Framing.CLOSE:
            return self._closed
        return self._remaining == 0

    def feed(self, data: bytes) -> tuple[memoryview, memoryview]:
        """Split `data` into its body bytes and the bytes past the end of the body."""
        view = memoryview(data)
        if self.ended:
            return view[:0], view
        if self.framing is Framing.CONTENT_LENGTH:
            used = min(self._remaining, len(data))
            self._remaining -= used
            self.ended = self._remaining == 0
        elif self._chunks is not None and not self._chunks.broken:
            used = self._chunks.scan(data)
            if self._chunks.broken:
                used = len(data)
            self.ended = self._chunks.done
        else:
            used = len(data)
        self.size += used
        return view[:used], view[used:]

    def close(self) -> None:
        """The input ended (the peer closed): a body its framing says is longer is cut."""
        self._closed = True
        if self.ended:
            return
        self.ended = True
        if self.framing is Framing.CONTENT_LENGTH:
            self.problems.append(problem(ProblemCode.BODY_TRUNCATED, self.size, self.length))
        elif self._chunks is not None:
            self._chunks.end()
