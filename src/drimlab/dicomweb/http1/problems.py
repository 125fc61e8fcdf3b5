"""What can be wrong in an HTTP/1.1 message: typed problems with stable codes, and head errors.

A `Problem` is a deviation the message survives (it still parses): its text is what a finding
shows and is built from one template per code, so the same bytes give the same text whoever
captured them. A `Problem` is a `str`, so it travels wherever problems are kept as strings
(`Exchange.response_problems`, the store, evidence bundles) and `problem_code()` recovers its
code from the bare text after such a round trip.

A head that is not HTTP at all raises a `HeadError` instead:

HeadError            the bytes are not a usable HTTP message head
├── EmptyMessage     nothing but blank lines before the end of the input
├── NotHttp          the first line is not an HTTP request line or status line
├── IncompleteHead   the input ends inside the head (no blank line after the headers)
└── HeadTooLarge     no end of head within the size limit
"""

from __future__ import annotations

import re
from enum import StrEnum


class ProblemCode(StrEnum):
    """The stable short name of each kind of deviation (RFC 9110, RFC 9112)."""

    # The head (RFC 9112 §2.2, §5; RFC 9110 §5)
    BARE_LF = "bare-lf"
    OBS_FOLD = "obs-fold"
    NO_COLON = "no-colon"
    EMPTY_NAME = "empty-name"
    SPACE_BEFORE_COLON = "space-before-colon"
    BAD_NAME = "bad-name"
    CONTROL_IN_VALUE = "control-in-value"
    NON_ASCII_VALUE = "non-ascii-value"
    DUPLICATE_FIELD = "duplicate-field"
    LONG_HEAD = "long-head"
    # Framing fields (RFC 9112 §6)
    CONTENT_LENGTH_INVALID = "content-length-invalid"
    CONTENT_LENGTH_CONFLICT = "content-length-conflict"
    CONTENT_LENGTH_REPEATED = "content-length-repeated"
    CONTENT_LENGTH_WITH_TRANSFER_ENCODING = "content-length-with-transfer-encoding"
    CHUNKED_NOT_LAST = "chunked-not-last"
    CHUNKED_TWICE = "chunked-twice"
    # The body (RFC 9112 §6.3, §7.1)
    BODY_TRUNCATED = "body-truncated"
    CHUNK_SIZE = "chunk-size"
    CHUNK_LINE_TOO_LONG = "chunk-line-too-long"
    CHUNK_DATA_CRLF = "chunk-data-crlf"
    CHUNK_TRAILER = "chunk-trailer"
    LAST_CHUNK_MISSING = "last-chunk-missing"
    AFTER_LAST_CHUNK = "after-last-chunk"


TEMPLATES: dict[ProblemCode, str] = {
    ProblemCode.BARE_LF: "bare LF line endings among CRLF ones ({} of {} lines)",
    ProblemCode.OBS_FOLD: "obsolete line folding: {!r}",
    ProblemCode.NO_COLON: "header line without a colon: {!r}",
    ProblemCode.EMPTY_NAME: "header line without a name: {!r}",
    ProblemCode.SPACE_BEFORE_COLON: "whitespace around header name {!r}",
    ProblemCode.BAD_NAME: "header name with a character a field name cannot have: {!r}",
    ProblemCode.CONTROL_IN_VALUE: "control character in the value of header {!r}: {!r}",
    ProblemCode.NON_ASCII_VALUE: "non-ASCII bytes in the value of header {!r}: {!r}",
    ProblemCode.DUPLICATE_FIELD: "{} header lines {}: the field takes a single value",
    ProblemCode.LONG_HEAD: "head of {} bytes, more than the {} bytes common servers and proxies "
    "accept",
    ProblemCode.CONTENT_LENGTH_INVALID: "Content-Length is not a number of bytes: {!r}",
    ProblemCode.CONTENT_LENGTH_CONFLICT: "Content-Length values disagree: {}",
    ProblemCode.CONTENT_LENGTH_REPEATED: "Content-Length repeated with the same value: {}",
    ProblemCode.CONTENT_LENGTH_WITH_TRANSFER_ENCODING: "Content-Length {!r} together with "
    "Transfer-Encoding {!r}: Transfer-Encoding delimits the body",
    ProblemCode.CHUNKED_NOT_LAST: "Transfer-Encoding {!r} does not end with chunked: "
    "the body cannot be delimited",
    ProblemCode.CHUNKED_TWICE: "Transfer-Encoding {!r} applies chunked more than once",
    ProblemCode.BODY_TRUNCATED: "body ends after {} of the {} bytes Content-Length announces",
    ProblemCode.CHUNK_SIZE: "bad chunk size line {!r}",
    ProblemCode.CHUNK_LINE_TOO_LONG: "chunk line too long (more than {} bytes)",
    ProblemCode.CHUNK_DATA_CRLF: "chunk data not followed by CRLF",
    ProblemCode.CHUNK_TRAILER: "trailer line is not `name: value`: {!r}",
    ProblemCode.LAST_CHUNK_MISSING: "chunked body ends before its last (zero-size) chunk",
    ProblemCode.AFTER_LAST_CHUNK: "{} bytes after the last chunk",
}

# Deviations RFC 9110/9112 let a recipient accept ("MAY recognize", "MAY replace"): a validator
# reports them as less grave than those a recipient must reject or cannot read unambiguously.
TOLERATED = frozenset(
    {
        ProblemCode.BARE_LF,
        ProblemCode.NON_ASCII_VALUE,
        ProblemCode.LONG_HEAD,
        ProblemCode.CONTENT_LENGTH_REPEATED,
    }
)


class Problem(str):
    """A deviation found in a message: its text (a `str`), with a stable short `code`.

    `problem(ProblemCode.OBS_FOLD, " folded")` is the text "obsolete line folding: ' folded'"
    with the code `obs-fold`; it compares equal to that plain text.
    """

    code: ProblemCode

    def __new__(cls, text: str, code: ProblemCode) -> Problem:
        self = super().__new__(cls, text)
        self.code = code
        return self

    def __getnewargs__(self) -> tuple[str, ProblemCode]:  # type: ignore[override]
        return str(self), self.code

    def __repr__(self) -> str:
        return str.__repr__(self)


def problem(code: ProblemCode, *args: object) -> Problem:
    """The problem of kind `code`, its text filled from `args` by the code's template."""
    return Problem(TEMPLATES[code].format(*args), code)


def _pattern(template: str) -> re.Pattern[str]:
    fixed = re.split(r"\{[^}]*\}", template)
    return re.compile("(?:.*)".join(re.escape(piece) for piece in fixed), re.DOTALL)


_PATTERNS = [(code, _pattern(template)) for code, template in TEMPLATES.items()]


def problem_code(text: str) -> ProblemCode | None:
    """The code of a problem given as text only (e.g. read back from the store), or None."""
    if isinstance(text, Problem):
        return text.code
    return next((code for code, pattern in _PATTERNS if pattern.fullmatch(text)), None)


def is_tolerated(text: str) -> bool:
    """True for a deviation a recipient may accept (see `TOLERATED`)."""
    return problem_code(text) in TOLERATED


class HeadError(ValueError):
    """The bytes are not a usable HTTP message head; the message is one line."""


class EmptyMessage(HeadError):
    """Nothing but blank lines before the end of the input."""

    def __init__(self) -> None:
        super().__init__("no HTTP message: nothing but blank lines")


class NotHttp(HeadError):
    """The first line is not an HTTP request line (or status line)."""

    def __init__(self, expected: str, line: bytes) -> None:
        self.line = line
        super().__init__(f"first line is not an HTTP {expected} line: {_shown(line)}")


class IncompleteHead(HeadError):
    """The input ends inside the head: no blank line after the headers."""

    def __init__(self, received: int) -> None:
        self.received = received
        super().__init__(
            f"the message ends inside its head after {received} bytes "
            "(no blank line after the headers)"
        )


class HeadTooLarge(HeadError):
    """No end of head within the size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"head larger than {limit} bytes")


def _shown(line: bytes) -> str:
    return repr(line[:60].decode("latin-1").rstrip("\r\n"))
