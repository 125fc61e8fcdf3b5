"""The Exchange: one HTTP request and/or response as the bench captured it.

Every message the bench sees (received by a simulator, relayed by the proxy, loaded from a
file) becomes an Exchange and goes to the same validator. Headers are kept raw and in
order, exactly as received. A body is a `BodySource`: bytes, a path read in chunks, or an
iterable of chunks (an iterable can be read once only). `response_body_encoded` says the
response body is still in its transfer coding (e.g. a raw capture of a chunked response);
the validator then removes the coding itself and reports framing faults. `timings` are
seconds; `started_at` (Unix time the request was sent) is what time-dependent rules use.

Beside the HTTP messages an Exchange carries the other facts of the capture: the TLS facts of
its connection (`tls`), the server simulator's decision (`decision`), how the transport ended
when no response came (`transport_error`), what the bench meant the request for (`purpose`)
and the manifest of the response parts (`parts`). `as_dict` / `from_dict` is the one
serialisation (store, evidence bundle, monitor); bodies travel beside it, by reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, cast, get_args

from drimlab.dicomweb.http import header_value, header_values
from drimlab.facts.decision import Decision
from drimlab.facts.tls import TlsFacts

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


class Purpose(StrEnum):
    """What the bench sent a request for (rules about the source's answer depend on it)."""

    UNSPECIFIED = ""
    RETRIEVE = "retrieve"  # a well-formed retrieval the client simulator sent for a user
    PROBE = "probe"  # a deliberately bad request of the probe battery
    HEALTH = "health"  # the health check of a source (GET {base}, Accept application/json)


@dataclass(frozen=True)
class PartRecord:
    """One body part of a response or one file of a document set, as evidence lists it."""

    index: int
    size: int
    sha256: str
    content_type: str | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    transfer_syntax_uid: str | None = None
    kept_as: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        if data["kept_as"] is None:
            del data["kept_as"]  # only parts the client kept on disk say where
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def _origin(value: Any) -> Origin:
    return cast(Origin, value) if value in get_args(Origin) else "file"


def _pairs(rows: Any) -> RawHeaders:
    return tuple((str(k), str(v)) for k, v in rows or ())


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
    tls: TlsFacts | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    origin: Origin = "file"
    label: str = ""
    request_problems: tuple[str, ...] = ()
    response_problems: tuple[str, ...] = ()
    decision: Decision | None = None
    transport_error: str | None = None
    purpose: Purpose = Purpose.UNSPECIFIED
    parts: tuple[PartRecord, ...] = ()

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

    @property
    def peer_subject(self) -> str | None:
        """The subject DN of the certificate the peer presented, if any."""
        peer = self.tls.peer if self.tls is not None else None
        return peer.subject if peer is not None else None

    def as_dict(self) -> dict[str, Any]:
        """Every field but the bodies (which travel beside it: see `from_dict`)."""
        return {
            "method": self.method,
            "target": self.target,
            "request_headers": [list(h) for h in self.request_headers],
            "has_request_body": self.request_body is not None,
            "http_version": self.http_version,
            "status": self.status,
            "reason": self.reason,
            "response_headers": [list(h) for h in self.response_headers],
            "has_response_body": self.response_body is not None,
            "response_body_encoded": self.response_body_encoded,
            "tls": None if self.tls is None else self.tls.as_dict(),
            "timings": dict(self.timings),
            "origin": self.origin,
            "label": self.label,
            "request_problems": list(self.request_problems),
            "response_problems": list(self.response_problems),
            "decision": None if self.decision is None else self.decision.as_dict(),
            "transport_error": self.transport_error,
            "purpose": self.purpose.value,
            "parts": [p.as_dict() for p in self.parts],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        request_body: BodySource | None = None,
        response_body: BodySource | None = None,
    ) -> Exchange:
        """The Exchange `as_dict` described, with its bodies given back by the caller."""
        tls = data.get("tls")
        decision = data.get("decision")
        return cls(
            method=data.get("method"),
            target=data.get("target"),
            request_headers=_pairs(data.get("request_headers")),
            request_body=request_body,
            http_version=str(data.get("http_version") or "HTTP/1.1"),
            status=data.get("status"),
            reason=str(data.get("reason") or ""),
            response_headers=_pairs(data.get("response_headers")),
            response_body=response_body,
            response_body_encoded=bool(data.get("response_body_encoded", False)),
            tls=None if tls is None else TlsFacts.from_dict(tls),
            timings={str(k): float(v) for k, v in (data.get("timings") or {}).items()},
            origin=_origin(data.get("origin")),
            label=str(data.get("label") or ""),
            request_problems=tuple(str(p) for p in data.get("request_problems", ())),
            response_problems=tuple(str(p) for p in data.get("response_problems", ())),
            decision=None if decision is None else Decision.from_dict(decision),
            transport_error=data.get("transport_error"),
            purpose=Purpose(data.get("purpose") or ""),
            parts=tuple(PartRecord.from_dict(p) for p in data.get("parts", ())),
        )
