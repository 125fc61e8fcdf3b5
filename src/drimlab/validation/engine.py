"""The validation engine: run a profile's rules over an Exchange and build a Report.

`ResponseValidator` is a push parser: `feed_headers`, then `feed` body chunks as they
arrive (from a socket, a proxy or a file), then `close()` for the Report. It never holds a
whole part: each part is hashed as it streams, and only its first bytes (up to
`partstate.HEADER_CAP`, enough for the File Meta and the identifying attributes) are kept for the
DICOM header parse. `validate_exchange` runs the request rules and streams the response.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from drimlab.dicomweb.http import header_value
from drimlab.dicomweb.http1 import ChunkedDecoder
from drimlab.dicomweb.media import MediaType, MediaTypeError, parse_media_type
from drimlab.dicomweb.multipart import Event, MultipartDecoder, PartData, PartEnd, PartStart
from drimlab.documents.kos import Kos
from drimlab.exchange import Exchange, iter_body
from drimlab.validation.assess import Selection, assess
from drimlab.validation.health import health_subject, is_health_check
from drimlab.validation.partstate import PartState, part_record, pixel_sampler, pixel_summary
from drimlab.validation.profiles import Profile
from drimlab.validation.report import Report
from drimlab.validation.rules import Kind
from drimlab.validation.standalone import validate_connection, validate_whitelist
from drimlab.validation.subjects import (
    BodyFacts,
    CheckerStream,
    DecisionSubject,
    IodChecker,
    PartFacts,
    PartSubject,
    RequestSubject,
    ResponseSubject,
    TlsSubject,
    exchange_time,
    request_subject,
)

INFLATE_STEP = 1024 * 1024
PartSink = Callable[[Event], None]
Chosen = str | Profile | Selection


def judged_sides(exchange: Exchange) -> tuple[bool, bool]:
    """Which sides of an exchange are the system under test's: (request, response).

    The server simulator judges the consumer's request (it made the response itself); the
    client simulator judges the source's response (it made the request); the proxy and a file
    judge both sides they hold.
    """
    if exchange.origin == "server":
        return exchange.has_request, False
    if exchange.origin == "client":
        return False, exchange.has_response
    return exchange.has_request, exchange.has_response


def fact_subjects(exchange: Exchange) -> list[tuple[Kind, list[object]]]:
    """The subjects an exchange carries beside its messages: TLS, decision, transport."""
    subjects: list[tuple[Kind, list[object]]] = []
    if exchange.tls is not None:
        subjects.append((Kind.TLS, [TlsSubject(exchange.tls, exchange_time(exchange))]))
    if exchange.decision is not None:
        subjects.append((Kind.DECISION, [DecisionSubject(exchange.decision, exchange)]))
    if exchange.origin in ("client", "proxy") or exchange.purpose:
        subjects.append((Kind.EXCHANGE, [exchange]))
    return subjects


def _kind(exchange: Exchange, request: bool, response: bool) -> str:
    sides = [name for name, judged in (("request", request), ("response", response)) if judged]
    if sides:
        return "+".join(sides)
    if exchange.tls is not None and exchange.tls.handshake is not None:
        return "handshake"
    return "transport" if exchange.has_request else "empty"


def _request_facts(subject: RequestSubject) -> dict[str, Any]:
    facts: dict[str, Any] = {"method": subject.method, "target": subject.target}
    if subject.resource is not None:
        facts["level"] = subject.resource.level.value
        facts.update({label: uid for label, uid in subject.resource.uids()})
    return facts


def _health_check(
    exchange: Exchange, selection: Selection, kos: Kos | None, sides: tuple[bool, bool]
) -> Report:
    """A health check (`GET {base}`), judged by the HEALTH rules instead of the retrieve ones."""
    subject = health_subject(exchange, kos)
    judged = [
        (kind, [subject])
        for kind, side in ((Kind.HEALTH_CHECK, sides[0]), (Kind.HEALTH_ANSWER, sides[1]))
        if side
    ]
    facts = {"health_check": {"target": exchange.target, "status": exchange.status}}
    return assess(
        exchange.subject,
        [*judged, *fact_subjects(exchange)],
        selection,
        kind="health-check",
        facts={**facts, "validated_with_kos": kos is not None},
    )


def validate_request(
    exchange: Exchange,
    profile: Chosen = "drim-m",
    *,
    kos: Kos | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Report:
    """Validate the request side of an Exchange (and its TLS, decision and transport facts)."""
    selection = Selection.of(profile, select=select, ignore=ignore)
    if is_health_check(exchange, kos):
        return _health_check(exchange, selection, kos, (True, False))
    subject = request_subject(exchange, kos)
    return assess(
        exchange.subject,
        [(Kind.REQUEST, [subject]), *fact_subjects(exchange)],
        selection,
        kind="request",
        facts={"request": _request_facts(subject), "validated_with_kos": kos is not None},
    )


class ResponseValidator:
    """Validate a response while it streams: `feed_headers`, `feed`*, `close` -> Report."""

    def __init__(
        self,
        request: Exchange | None,
        profile: Chosen = "drim-m",
        *,
        kos: Kos | None = None,
        select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        part_sink: PartSink | None = None,
        checker: IodChecker | None = None,
        subject: str = "",
        judge_request: bool = False,
    ) -> None:
        self.selection = Selection.of(profile, select=select, ignore=ignore)
        self.profile = self.selection.profile
        self._judge_request = judge_request
        self._exchange = request
        self._request = (
            request_subject(request, kos) if request is not None and request.has_request else None
        )
        self._kos = kos
        self._sink = part_sink
        self._checker = checker
        self._streams: list[CheckerStream] = []
        self._subject = subject or (request.subject if request is not None else "response")
        self._started = datetime.now(UTC)
        self._status: int | None = None
        self._headers: tuple[tuple[str, str], ...] = ()
        self._problems: tuple[str, ...] = ()
        self._content_type: MediaType | None = None
        self._content_type_error: str | None = None
        self._dechunker: ChunkedDecoder | None = None
        self._decoder: MultipartDecoder | None = None
        self._single: PartState | None = None
        self._current: PartState | None = None
        self._parts: list[PartFacts] = []
        self._body_seen = False
        self._size = 0
        self._inflater: Any = None
        self._coding_problems: list[str] = []
        self._sampler = pixel_sampler(self.selection)

    def feed_headers(
        self,
        status: int,
        headers: Sequence[tuple[str, str]],
        *,
        encoded: bool = False,
        problems: Sequence[str] = (),
    ) -> None:
        """Take the status and raw headers; `encoded` means `feed` gets wire bytes (chunked)."""
        self._status = status
        self._headers = tuple(headers)
        self._problems = tuple(problems)
        text = header_value(self._headers, "Content-Type")
        if text is not None:
            try:
                self._content_type = parse_media_type(text)
            except MediaTypeError as exc:
                self._content_type_error = str(exc)
        coding = (header_value(self._headers, "Transfer-Encoding") or "").lower()
        if encoded and "chunked" in coding:
            self._dechunker = ChunkedDecoder()
        if status not in (200, 206) or self._content_type is None:
            return
        content_coding = (header_value(self._headers, "Content-Encoding") or "").strip().lower()
        if content_coding in ("gzip", "x-gzip", "deflate"):
            wbits = zlib.MAX_WBITS | (16 if "gzip" in content_coding else 0)
            self._inflater = zlib.decompressobj(wbits)
        elif content_coding not in ("", "identity"):
            self._coding_problems.append(
                f"content coding {content_coding!r} is not one the validator decodes "
                "(gzip, deflate): the parts were not checked"
            )
            return
        media = self._content_type
        boundary = media.param("boundary")
        if media.type == "multipart" and boundary:
            self._decoder = MultipartDecoder(boundary)
        elif media.essence == "application/dicom":
            self._single = self._open_part(0, (("Content-Type", text or ""),))

    def feed(self, chunk: bytes) -> None:
        """Take the next body bytes (a call with b"" marks the body as captured)."""
        self._body_seen = True
        if self._dechunker is not None:
            chunk = self._dechunker.feed(chunk)
        self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        if self._inflater is None:
            self._route(chunk)
            return
        try:
            # Bounded output per step: a small compressed chunk may expand enormously.
            data = self._inflater.decompress(chunk, INFLATE_STEP)
            while True:
                self._route(data)
                tail = self._inflater.unconsumed_tail
                if not tail:
                    break
                data = self._inflater.decompress(tail, INFLATE_STEP)
        except zlib.error as exc:
            self._coding_problems.append(f"the compressed body is corrupt: {exc}")
            self._inflater = None
            self._decoder = None
            self._single = None

    def _route(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self._decoder is not None:
            self._handle(self._decoder.feed(chunk))
        elif self._single is not None:
            self._single.add(chunk)
            if self._sink is not None:
                self._sink(PartData(0, chunk))

    def _open_part(self, index: int, headers: tuple[tuple[str, str], ...]) -> PartState:
        stream: CheckerStream | None = None
        if self._checker is not None:
            stream = self._checker.stream()
            self._streams.append(stream)
        if self._sink is not None:
            self._sink(PartStart(index, headers))
        spool = self._sampler is not None and self._sampler.wants(index)
        return PartState(index, headers, stream, spool=spool)

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, PartStart):
                self._current = self._open_part(event.index, event.headers)
                continue
            if self._current is None:
                continue
            if isinstance(event, PartData):
                self._current.add(event.data)
                if self._sink is not None:
                    self._sink(event)
            elif isinstance(event, PartEnd):
                if self._sink is not None:
                    self._sink(event)
                self._finish(self._current, complete=True)
                self._current = None

    def _finish(self, part: PartState, *, complete: bool) -> None:
        self._parts.append(part.finish(complete=complete))

    def close(self, exchange: Exchange | None = None) -> Report:
        """End of the response: judge what was seen and return the Report.

        `exchange` is the completed capture (its TLS facts, timings, transport facts); by
        default the request exchange the validator was given.
        """
        try:
            return self._close(exchange if exchange is not None else self._exchange)
        finally:
            for stream in self._streams:
                stream.discard()
            for state in (self._current, self._single):
                if state is not None:
                    state.discard()

    def _close(self, exchange: Exchange | None) -> Report:
        if self._status is None:
            raise ValueError("feed_headers() was never called")
        transfer_problems: tuple[str, ...] = ()
        if self._dechunker is not None:
            self._take(self._dechunker.close())
            transfer_problems = tuple(self._dechunker.problems)
        if self._inflater is not None and self._body_seen:
            self._route(self._inflater.flush())
            if not self._inflater.eof:
                self._coding_problems.append("the compressed body ends before its end marker")
        body: BodyFacts | None = None
        if self._body_seen:
            body = self._body_facts(transfer_problems)
        response = ResponseSubject(
            status=self._status,
            headers=self._headers,
            content_type=self._content_type,
            content_type_error=self._content_type_error,
            request=self._request,
            body=body,
            problems=self._problems,
            kos=self._kos,
        )
        parts = [PartSubject(p, response) for p in (body.parts if body else ())]
        subjects: list[tuple[Kind, list[object]]] = []
        if self._judge_request and self._request is not None:
            subjects.append((Kind.REQUEST, [self._request]))
        subjects += [
            (Kind.RESPONSE, [response]),
            (Kind.BODY, [response]),
            (Kind.PART, list(parts)),
        ]
        if exchange is not None:
            subjects += fact_subjects(exchange)
        facts: dict[str, Any] = {
            "response": {
                "status": self._status,
                "content_type": header_value(self._headers, "Content-Type"),
                "body_captured": body is not None,
                "body_bytes": body.size if body else None,
            },
            "validated_with_kos": self._kos is not None,
        }
        if self._request is not None:
            facts["request"] = _request_facts(self._request)
        if self._sampler is not None:
            facts["pixels"] = pixel_summary(body.parts if body else (), self._sampler)
        judged = self._judge_request and self._request is not None
        return assess(
            self._subject,
            subjects,
            self.selection,
            kind="request+response" if judged else "response",
            facts=facts,
            parts=tuple(part_record(p) for p in (body.parts if body else ())),
            started_at=self._started,
        )

    def _body_facts(self, transfer_problems: tuple[str, ...]) -> BodyFacts:
        decoder = self._decoder
        if decoder is not None:
            self._handle(decoder.close())
            if self._current is not None:
                if self._sink is not None:
                    self._sink(PartEnd(self._current.index, self._current.size))
                self._finish(self._current, complete=False)
                self._current = None
        elif self._single is not None:
            if self._sink is not None:
                self._sink(PartEnd(0, self._single.size))
            self._finish(self._single, complete=True)
        return BodyFacts(
            size=self._size,
            multipart=decoder is not None,
            boundary=decoder.boundary if decoder else None,
            problems=tuple(decoder.problems) if decoder else (),
            closed_properly=decoder.closed_properly if decoder else False,
            delimiter_found=decoder.delimiter_found if decoder else False,
            preamble_size=decoder.preamble_size if decoder else 0,
            epilogue_size=decoder.epilogue_size if decoder else 0,
            transfer_problems=transfer_problems,
            coding_problems=tuple(self._coding_problems),
            parts=tuple(self._parts),
        )


def validate_response(
    exchange: Exchange,
    profile: Chosen = "drim-m",
    *,
    kos: Kos | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    checker: IodChecker | None = None,
    part_sink: PartSink | None = None,
) -> Report:
    """Validate the response side of an Exchange, streaming its body."""
    return _stream(
        exchange,
        Selection.of(profile, select=select, ignore=ignore),
        kos=kos,
        judge_request=False,
        checker=checker,
        part_sink=part_sink,
    )


def _stream(
    exchange: Exchange,
    selection: Selection,
    *,
    kos: Kos | None,
    judge_request: bool,
    checker: IodChecker | None = None,
    part_sink: PartSink | None = None,
) -> Report:
    if exchange.status is None:
        raise ValueError("the exchange has no response")
    validator = ResponseValidator(
        exchange if exchange.has_request else None,
        selection,
        kos=kos,
        checker=checker,
        part_sink=part_sink,
        subject=exchange.subject,
        judge_request=judge_request,
    )
    validator.feed_headers(
        exchange.status,
        exchange.response_headers,
        encoded=exchange.response_body_encoded,
        problems=exchange.response_problems,
    )
    if exchange.response_body is not None:
        validator.feed(b"")
        for chunk in iter_body(exchange.response_body):
            validator.feed(chunk)
    return validator.close(exchange)


def validate_exchange(
    exchange: Exchange,
    profile: Chosen = "drim-m",
    *,
    kos: Kos | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    checker: IodChecker | None = None,
) -> Report:
    """Validate a whole Exchange in one Report: the sides that are the system under test's
    (see `judged_sides`), with the TLS, decision and transport facts it carries.
    """
    selection = Selection.of(profile, select=select, ignore=ignore)
    judge_request, judge_response = judged_sides(exchange)
    if is_health_check(exchange, kos):
        return _health_check(exchange, selection, kos, (judge_request, judge_response))
    if judge_response:
        return _stream(exchange, selection, kos=kos, judge_request=judge_request, checker=checker)
    subjects: list[tuple[Kind, list[object]]] = []
    facts: dict[str, Any] = {"validated_with_kos": kos is not None}
    if judge_request:
        subject = request_subject(exchange, kos)
        subjects.append((Kind.REQUEST, [subject]))
        facts["request"] = _request_facts(subject)
    return assess(
        exchange.subject,
        [*subjects, *fact_subjects(exchange)],
        selection,
        kind=_kind(exchange, judge_request, False),
        facts=facts,
        parts=exchange.parts,
    )


__all__ = [
    "PartSink",
    "ResponseValidator",
    "fact_subjects",
    "judged_sides",
    "validate_connection",
    "validate_exchange",
    "validate_request",
    "validate_response",
    "validate_whitelist",
]
