"""What rules look at: request, response, body and part subjects, built once per validation.

Rules are generators over one subject kind. A rule whose subject (or a prerequisite such as
the request or the KOS) is absent raises `NotApplicable` before yielding: it is then not
counted as checked. Part subjects carry only what a DICOM header parse needs, never a
whole part. The KOS is the one `Kos` model of `documents.kos`; the KOS rules see it with the
IOD checker's verdict beside it (`KosSubject`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from pydicom import dcmread

from drimlab.dicomweb.http import RawHeaders, header_value, header_values
from drimlab.dicomweb.media import Accept, MediaType, MediaTypeError, parse_accept, parse_media_type
from drimlab.dicomweb.paths import PathError, Resource, parse_target
from drimlab.documents.identity import ObjectIdentity, PatientIdentity, patient_identity
from drimlab.documents.kos import Kos
from drimlab.exchange import Exchange
from drimlab.facts.decision import Decision
from drimlab.facts.tls import CertificateFacts, TlsFacts
from drimlab.validation.pixels import PixelFacts

PART10_PREAMBLE = 128


class NotApplicable(Exception):
    """Raised by a rule before its first finding: what it checks is absent here."""


@dataclass(frozen=True)
class RequestSubject:
    """A request with its target and Accept parsed once."""

    method: str
    target: str
    http_version: str
    headers: RawHeaders
    resource: Resource | None
    path_error: str | None
    accept: Accept | None
    has_body: bool
    problems: tuple[str, ...] = ()
    kos: Kos | None = None
    when: float | None = None

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def header_values(self, name: str) -> list[str]:
        return header_values(self.headers, name)

    def require_kos(self) -> Kos:
        if self.kos is None:
            raise NotApplicable
        return self.kos


def request_subject(exchange: Exchange, kos: Kos | None = None) -> RequestSubject:
    """Parse what the request rules need from an Exchange with a request side."""
    target = exchange.target or ""
    resource: Resource | None = None
    path_error: str | None = None
    try:
        resource = parse_target(target)
    except PathError as exc:
        path_error = str(exc)
    accept_values = exchange.request_header_values("Accept")
    return RequestSubject(
        method=exchange.method or "",
        target=target,
        http_version=exchange.http_version,
        headers=exchange.request_headers,
        resource=resource,
        path_error=path_error,
        accept=parse_accept(accept_values) if accept_values else None,
        has_body=exchange.request_body is not None,
        problems=exchange.request_problems,
        kos=kos,
        when=exchange.timings.get("started_at"),
    )


@dataclass(frozen=True)
class DicomFacts:
    """What the header parse of one Part 10 part found."""

    has_preamble: bool
    meta: Mapping[str, str] = field(default_factory=dict)
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    parse_error: str | None = None
    header_truncated: bool = False
    notes: tuple[str, ...] = ()
    patient: PatientIdentity | None = None

    @property
    def transfer_syntax_uid(self) -> str | None:
        return self.meta.get("TransferSyntaxUID")

    @property
    def identity(self) -> ObjectIdentity:
        """What the data set says it is: patient, study, series, SOP class and instance."""
        return ObjectIdentity(
            self.patient,
            self.study_instance_uid or "",
            self.series_instance_uid or "",
            self.sop_class_uid or "",
            self.sop_instance_uid or "",
        )


_META_KEYWORDS = (
    "FileMetaInformationGroupLength",
    "FileMetaInformationVersion",
    "MediaStorageSOPClassUID",
    "MediaStorageSOPInstanceUID",
    "TransferSyntaxUID",
    "ImplementationClassUID",
)
_DATASET_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


class _ShortReadIO(BytesIO):
    """A BytesIO that notices a read cut short by the end of data (a truncated element)."""

    short = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if size is not None and size > 0 and 0 < len(data) < size:
            self.short = True
        return data


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value).rstrip("\x00 ")


def read_part10_header(prefix: bytes, *, truncated: bool) -> DicomFacts:
    """Parse the File Meta and identifying UIDs from a part's first bytes (no pixel data).

    `truncated` says the prefix was capped before the part ended. Parser warnings become
    notes; any parser failure becomes `parse_error` (the input is untrusted).
    """
    has_preamble = len(prefix) >= PART10_PREAMBLE + 4 and prefix[128:132] == b"DICM"
    meta: dict[str, str] = {}
    found: dict[str, str | None] = dict.fromkeys(_DATASET_KEYWORDS)
    error: str | None = None
    patient: PatientIdentity | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stream = _ShortReadIO(prefix)
            dataset = dcmread(stream, force=not has_preamble, stop_before_pixels=True)
            file_meta = getattr(dataset, "file_meta", None)
            for keyword in _META_KEYWORDS:
                if file_meta is not None and keyword in file_meta:
                    meta[keyword] = _text(file_meta[keyword].value)
            for keyword in _DATASET_KEYWORDS:
                if keyword in dataset:
                    found[keyword] = _text(dataset[keyword].value)
            patient = patient_identity(dataset)
            if stream.short:
                error = "the data ends inside a data element (truncated part)"
        except Exception as exc:  # a corrupt part may break the parser in any way
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
    notes = tuple(str(w.message)[:200] for w in caught[:5])
    return DicomFacts(
        has_preamble=has_preamble,
        meta=meta,
        sop_class_uid=found["SOPClassUID"],
        sop_instance_uid=found["SOPInstanceUID"],
        study_instance_uid=found["StudyInstanceUID"],
        series_instance_uid=found["SeriesInstanceUID"],
        parse_error=error,
        header_truncated=truncated,
        notes=notes,
        patient=patient,
    )


@dataclass(frozen=True)
class ToolMessage:
    """One message of an external checker (dciodvfy): its text and where it points."""

    text: str
    location: str | None = None


@dataclass(frozen=True)
class CheckerVerdict:
    """What an external IOD checker (dciodvfy) said of one file: the IOD it saw, its messages."""

    iod: str
    errors: tuple[ToolMessage, ...]
    warnings: tuple[ToolMessage, ...]


class CheckerStream(Protocol):
    """One file being handed to an IOD checker piece by piece (a streamed response part)."""

    def write(self, data: bytes | memoryview) -> None: ...

    def finish(self) -> CheckerVerdict: ...

    def discard(self) -> None: ...


class IodChecker(Protocol):
    """An external IOD checker (dciodvfy), injected: validation never starts it itself."""

    def check(self, source: Path | bytes) -> CheckerVerdict: ...

    def stream(self) -> CheckerStream: ...


@dataclass(frozen=True)
class KosSubject:
    """A KOS under the KOS rules: the model, and the checker's verdict (None: not run)."""

    kos: Kos
    checker: CheckerVerdict | None = None


@dataclass(frozen=True)
class PartFacts:
    """One body part: its headers, size, hash, Content-Type and DICOM header facts."""

    index: int
    headers: RawHeaders
    size: int
    sha256: str
    dicom: DicomFacts
    complete: bool = True
    checker_errors: tuple[ToolMessage, ...] | None = None
    checker_warnings: tuple[ToolMessage, ...] = ()
    pixels: PixelFacts | None = None  # None: not decoded (off, not sampled, or no pixel data)

    @property
    def content_type_text(self) -> str | None:
        return header_value(self.headers, "Content-Type")

    @cached_property
    def content_type(self) -> MediaType | None:
        text = self.content_type_text
        if text is None:
            return None
        try:
            return parse_media_type(text)
        except MediaTypeError:
            return None


@dataclass(frozen=True)
class BodyFacts:
    """What streaming the response body found."""

    size: int
    multipart: bool
    boundary: str | None = None
    problems: tuple[str, ...] = ()
    closed_properly: bool = False
    delimiter_found: bool = False
    preamble_size: int = 0
    epilogue_size: int = 0
    transfer_problems: tuple[str, ...] = ()
    coding_problems: tuple[str, ...] = ()
    parts: tuple[PartFacts, ...] = ()


@dataclass(frozen=True)
class ResponseSubject:
    """A response: status, headers, parsed Content-Type, the request, and the body if captured."""

    status: int
    headers: RawHeaders
    content_type: MediaType | None
    content_type_error: str | None
    request: RequestSubject | None
    body: BodyFacts | None
    problems: tuple[str, ...] = ()
    kos: Kos | None = None

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def require_request(self) -> RequestSubject:
        if self.request is None:
            raise NotApplicable
        return self.request

    def require_body(self) -> BodyFacts:
        if self.body is None:
            raise NotApplicable
        return self.body

    def require_kos(self) -> Kos:
        if self.kos is None:
            raise NotApplicable
        return self.kos


@dataclass(frozen=True)
class PartSubject:
    """One part, seen with the response it belongs to."""

    part: PartFacts
    response: ResponseSubject


@dataclass(frozen=True)
class TlsSubject:
    """The TLS facts of one connection, with the time its certificates are judged at."""

    facts: TlsFacts
    at: datetime

    def require_tls(self) -> TlsFacts:
        """The facts of a connection that was TLS (plain HTTP: not applicable)."""
        if not self.facts.tls:
            raise NotApplicable
        return self.facts

    def require_peer(self) -> CertificateFacts:
        """The peer certificate of a completed handshake (refused or absent: not applicable)."""
        facts = self.require_tls()
        if facts.handshake is not None or facts.peer is None:
            raise NotApplicable
        return facts.peer


@dataclass(frozen=True)
class DecisionSubject:
    """The server simulator's decision about one request, with the request it answered."""

    decision: Decision
    exchange: Exchange


def exchange_time(exchange: Exchange) -> datetime:
    """When the exchange took place (its `started_at` timing; now for a capture without one)."""
    started = exchange.timings.get("started_at")
    if started is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(started, UTC)
