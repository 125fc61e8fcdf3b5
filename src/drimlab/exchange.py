"""The Exchange: one HTTP request and/or response as the bench captured it.

Every message the bench sees (received by a simulator, relayed by the proxy, loaded from a
file) becomes an Exchange and goes to the same validator. Headers are kept raw and in
order, exactly as received. A body is a `BodySource`: bytes, a path read in chunks, or an
iterable of chunks (an iterable can be read once only). `response_body_encoded` says the
response body is still in its transfer coding (e.g. a raw capture of a chunked response);
the validator then removes the coding itself and reports framing faults. `timings` are
seconds; `started_at` (Unix time the request was sent) is what time-dependent rules use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drimlab.dicomweb.http import header_value, header_values

CHUNK_SIZE = 1024 * 1024
Origin = Literal["server", "client", "proxy", "file"]
RawHeaders = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FileSlice:
    """Bytes of a file from `offset` (to the end, or `length` bytes): a body left on disk."""

    path: Path
    offset: int = 0
    length: int | None = None


BodySource = bytes | Path | FileSlice | Iterable[bytes]


def iter_body(source: BodySource | None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a body's bytes in chunks of at most `chunk_size` (files are never read whole)."""
    if source is None:
        return
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]
        return
    if isinstance(source, Path):
        source = FileSlice(source)
    if isinstance(source, FileSlice):
        remaining = source.length
        with source.path.open("rb") as handle:
            handle.seek(source.offset)
            while remaining is None or remaining > 0:
                want = chunk_size if remaining is None else min(chunk_size, remaining)
                chunk = handle.read(want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        return
    for chunk in source:
        if chunk:
            yield bytes(chunk)


@dataclass(frozen=True)
class Exchange:
    """A captured request and/or response; either side may be absent."""

    method: str | None = None
    target: str | None = None
    request_headers: RawHeaders = ()
    request_body: BodySource | None = None
    http_version: str = "HTTP/1.1"
    status: int | None = None
    reason: str = ""
    response_headers: RawHeaders = ()
    response_body: BodySource | None = None
    response_body_encoded: bool = False
    peer: Mapping[str, Any] | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    origin: Origin = "file"
    label: str = ""
    request_problems: tuple[str, ...] = ()
    response_problems: tuple[str, ...] = ()

    @property
    def has_request(self) -> bool:
        return self.method is not None

    @property
    def has_response(self) -> bool:
        return self.status is not None

    def request_header(self, name: str) -> str | None:
        """First value of a request header (case-insensitive)."""
        return header_value(self.request_headers, name)

    def request_header_values(self, name: str) -> list[str]:
        return header_values(self.request_headers, name)

    def response_header(self, name: str) -> str | None:
        """First value of a response header (case-insensitive)."""
        return header_value(self.response_headers, name)

    def response_header_values(self, name: str) -> list[str]:
        return header_values(self.response_headers, name)

    @property
    def subject(self) -> str:
        """A one-line description for reports."""
        if self.label:
            return self.label
        bits = []
        if self.has_request:
            bits.append(f"{self.method} {self.target}")
        if self.has_response:
            bits.append(f"-> {self.status}")
        return " ".join(bits) or "empty exchange"
