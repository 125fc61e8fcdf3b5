"""WADO-RQ: the WADO-RS request (PS3.18 §8, §10.4; RFC 9110): method, target, UIDs, Accept."""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.dicomweb import transfer_syntax
from drimlab.dicomweb.http1 import is_tolerated
from drimlab.dicomweb.media import MediaType, MediaTypeError, parse_media_type
from drimlab.dicomweb.paths import Kind, Level
from drimlab.dicomweb.uids import uid_problem
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable, RequestSubject

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
ACCEPT = Location(header="Accept")
TARGET = Location(path="request-target")
SERIES_TARGET = "GET /dicom-web/studies/1.2.3/series/1.2.3.4"


def _ranges(subject: RequestSubject) -> list[tuple[int, MediaType]]:
    if subject.accept is None:
        raise NotApplicable
    return list(enumerate(subject.accept.ranges))


def _where(index: int) -> Location:
    return Location(header="Accept", path=f"media range {index + 1}")


@CATALOGUE.rule(
    "WADO-RQ-001",
    "method-not-get",
    severity=ERROR,
    summary="A WADO-RS retrieve must use GET (HEAD is tolerated)",
    what="The request method is GET, or HEAD (which asks for the headers only).",
    why="PS3.18 §10.4 defines the Retrieve transaction as GET; a server answers other "
    "methods with 405 and a client that sends them cannot retrieve anything.",
    bad="POST /dicom-web/studies/1.2.3/series/1.2.3.4 HTTP/1.1",
    good=f"{SERIES_TARGET} HTTP/1.1",
    references=("PS3.18 §10.4.1", "RFC 9110 §9.3.1"),
    subject="request",
)
def method_not_get(subject: RequestSubject) -> Iterator[Finding]:
    if subject.method == "HEAD":
        return
    if subject.method != "GET":
        rule = CATALOGUE["WADO-RQ-001"]
        yield rule.finding(
            f"method {subject.method} is not GET",
            Location(path="method"),
            expected="GET",
            actual=subject.method,
        )


@CATALOGUE.rule(
    "WADO-RQ-002",
    "target-not-a-wado-resource",
    severity=ERROR,
    summary="The target must follow the WADO-RS resource grammar",
    what="The request target (path or absolute URL) is `{base}/studies/{uid}` optionally "
    "followed by `/series/{uid}`, `/instances/{uid}`, `/frames/{list}`, `/metadata`, "
    "`/rendered`, `/thumbnail` or a bulkdata path.",
    why="A source routes on this grammar; anything else is a 400 or a 404 and the "
    "consumer gets no images. DRIM-M consumers build the target from the KOS Retrieve URL.",
    bad="GET /dicom-web/study/1.2.3/series/1.2.3.4",
    good=SERIES_TARGET,
    references=("PS3.18 §10.4.1", "PS3.18 §8.1"),
    subject="request",
)
def target_not_a_wado_resource(subject: RequestSubject) -> Iterator[Finding]:
    if subject.path_error is not None:
        yield CATALOGUE["WADO-RQ-002"].finding(subject.path_error, TARGET, actual=subject.target)


@CATALOGUE.rule(
    "WADO-RQ-003",
    "uid-malformed",
    severity=ERROR,
    summary="Every UID in the target must be a well-formed DICOM UID",
    what="Study, series and instance UIDs in the path have 1 to 64 characters, digits and "
    "dots only, no empty component and no leading zero in a multi-digit component.",
    why="PS3.5 §9.1 defines the syntax; a server answers a malformed UID with 400 "
    "(PS3.18 §8.1), so the request cannot succeed.",
    bad="GET /dicom-web/studies/1.2.03./series/1.2.3.4",
    good=SERIES_TARGET,
    references=("PS3.5 §9.1", "PS3.18 §8.1"),
    subject="request",
)
def uid_malformed(subject: RequestSubject) -> Iterator[Finding]:
    if subject.resource is None:
        raise NotApplicable
    for label, uid in subject.resource.uids():
        problem = uid_problem(uid)
        if problem is not None:
            yield CATALOGUE["WADO-RQ-003"].finding(
                f"{label} UID {uid[:80]!r}: {problem}", TARGET, actual=uid[:80]
            )


@CATALOGUE.rule(
    "WADO-RQ-004",
    "accept-missing",
    severity=ERROR,
    summary="A retrieve request must carry an Accept header",
    what="The request has an Accept header field.",
    why="PS3.18 §8.7 requires Accept when the response has a payload: it names the media "
    "types and transfer syntaxes the client can handle. Without it the server guesses, "
    "and the consumer may get a transfer syntax its viewer cannot decode.",
    bad=f"{SERIES_TARGET}\n(no Accept header)",
    good=f'{SERIES_TARGET}\nAccept: multipart/related; type="application/dicom"',
    references=("PS3.18 §8.7.1",),
    subject="request",
)
def accept_missing(subject: RequestSubject) -> Iterator[Finding]:
    if subject.accept is None:
        yield CATALOGUE["WADO-RQ-004"].finding("no Accept header", ACCEPT)


@CATALOGUE.rule(
    "WADO-RQ-005",
    "accept-unparseable",
    severity=ERROR,
    summary="Every Accept element must be a media range",
    what="Each comma-separated element of Accept parses as `type/subtype` followed by "
    "`; name=value` parameters (values a token or a quoted string), and at least one "
    "media range is present.",
    why="A server that cannot parse Accept answers 400 or ignores the element, so the "
    "client may receive something it did not ask for (RFC 9110 §12.5.1).",
    bad="Accept: multipart/related; type",
    good='Accept: multipart/related; type="application/dicom"',
    references=("RFC 9110 §12.5.1", "PS3.18 §8.7.1"),
    subject="request",
)
def accept_unparseable(subject: RequestSubject) -> Iterator[Finding]:
    if subject.accept is None:
        raise NotApplicable
    rule = CATALOGUE["WADO-RQ-005"]
    for problem in subject.accept.problems:
        yield rule.finding(problem.problem, _where(problem.index), actual=problem.text[:120])
    if not subject.accept.ranges and not subject.accept.problems:
        yield rule.finding("Accept holds no media range", ACCEPT)


def _allowed_for(kind: Kind, level: Level, media: MediaType) -> bool:
    essence = media.essence
    if essence in ("*/*", "multipart/*"):
        return True
    inner = media.param("type")
    inner_type = (inner or "").strip().lower()
    pixel = inner_type.startswith(("image/", "video/")) or inner_type in (
        "application/octet-stream",
        "*/*",
    )
    if kind is Kind.INSTANCES:
        if essence == "multipart/related":
            return inner is None or inner_type == "application/dicom" or pixel
        if essence == "application/dicom":
            return level is Level.INSTANCE
        return essence == "application/zip"
    if kind is Kind.METADATA:
        return essence in ("application/dicom+json", "application/json") or (
            essence == "multipart/related" and inner_type in ("application/dicom+xml", "")
        )
    if kind in (Kind.FRAMES, Kind.BULKDATA):
        # Frames asked as application/dicom (the ANS dry run) are WADO-RQ-019's to judge.
        dicom_frames = kind is Kind.FRAMES and inner_type == "application/dicom"
        return essence == "multipart/related" and (inner is None or pixel or dicom_frames)
    return media.type in ("image", "video", "text") or essence == "application/pdf"


@CATALOGUE.rule(
    "WADO-RQ-006",
    "media-type-not-for-resource",
    severity=ERROR,
    summary="Each Accept media range must be one the resource can return",
    what="Instances resources accept `multipart/related` (type application/dicom, or "
    "bulk/pixel types), `application/dicom` for a single instance, `application/zip`; "
    "metadata accepts `application/dicom+json` or `multipart/related; type=application/dicom+xml`; "
    "frames and bulkdata accept `multipart/related` with pixel or octet-stream types; "
    "rendered and thumbnail accept image, video, text and PDF types; `*/*` fits all.",
    why="PS3.18 §8.7.3 and §10.4.1 list the media types of each resource; asking a series "
    "for `application/dicom+json` or `image/jpeg` is answered 406 or 400.",
    bad=f"{SERIES_TARGET}\nAccept: application/dicom+json",
    good=f'{SERIES_TARGET}\nAccept: multipart/related; type="application/dicom"',
    references=("PS3.18 §8.7.3", "PS3.18 §10.4.1.2"),
    subject="request",
)
def media_type_not_for_resource(subject: RequestSubject) -> Iterator[Finding]:
    if subject.resource is None:
        raise NotApplicable
    resource = subject.resource
    for index, media in _ranges(subject):
        if not _allowed_for(resource.kind, resource.level, media):
            yield CATALOGUE["WADO-RQ-006"].finding(
                f"{media.essence} (type={media.param('type')}) is not a media type of a "
                f"{resource.level.value} {resource.kind.value} resource",
                _where(index),
                actual=str(media)[:200],
            )


@CATALOGUE.rule(
    "WADO-RQ-007",
    "type-parameter-unquoted",
    severity=ERROR,
    summary="The `type` parameter of multipart/related must be a quoted string",
    what="A `type=` parameter whose value contains `/` is written in double quotes.",
    why="`/` is not a token character (RFC 9110 §5.6.2, RFC 2045 §5.1), so an unquoted "
    "`type=application/dicom` is not a valid parameter; strict parsers reject the range.",
    bad="Accept: multipart/related; type=application/dicom",
    good='Accept: multipart/related; type="application/dicom"',
    references=("RFC 2387 §3.1", "RFC 9110 §5.6.6", "PS3.18 §8.7.3.5"),
    subject="request",
)
def type_parameter_unquoted(subject: RequestSubject) -> Iterator[Finding]:
    for index, media in _ranges(subject):
        for param in media.params_named("type"):
            if param.badly_unquoted:
                yield CATALOGUE["WADO-RQ-007"].finding(
                    f"type={param.value} is not quoted",
                    _where(index),
                    expected=f'type="{param.value}"',
                    actual=f"type={param.value}",
                )


@CATALOGUE.rule(
    "WADO-RQ-008",
    "type-parameter-missing-or-invalid",
    severity=ERROR,
    summary="A multipart/related range must name its part type with a valid `type`",
    what="Each `multipart/related` media range has exactly one `type` parameter whose value "
    "is a media type.",
    why="Without `type` the server cannot tell whether the client wants DICOM instances, "
    "bulk data or rendered images (PS3.18 §8.7.3.5, RFC 2387 §3.1: `type` is required).",
    bad="Accept: multipart/related; transfer-syntax=1.2.840.10008.1.2.1",
    good='Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
    references=("RFC 2387 §3.1", "PS3.18 §8.7.3.5"),
    subject="request",
)
def type_parameter_missing_or_invalid(subject: RequestSubject) -> Iterator[Finding]:
    rule = CATALOGUE["WADO-RQ-008"]
    for index, media in _ranges(subject):
        if media.essence != "multipart/related":
            continue
        found = media.params_named("type")
        if not found:
            yield rule.finding("multipart/related without a type parameter", _where(index))
        elif len(found) > 1:
            yield rule.finding("type parameter given more than once", _where(index))
        else:
            try:
                parse_media_type(found[0].value)
            except MediaTypeError as exc:
                yield rule.finding(f"type={found[0].value!r}: {exc}", _where(index))


@CATALOGUE.rule(
    "WADO-RQ-009",
    "transfer-syntax-unknown",
    severity=ERROR,
    summary="A transfer-syntax parameter must be a known transfer syntax UID or `*`",
    what="Each `transfer-syntax=` value is `*` or a UID the DICOM standard lists as a "
    "transfer syntax.",
    why="PS3.18 §8.7.3.5.2: the value is a Transfer Syntax UID; an unknown value cannot be "
    "honoured and the server answers 406 or ignores the range.",
    bad='Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.3.4',
    good='Accept: multipart/related; type="application/dicom"; '
    "transfer-syntax=1.2.840.10008.1.2.4.80",
    references=("PS3.18 §8.7.3.5.2", "PS3.6 Annex A"),
    subject="request",
)
def transfer_syntax_unknown(subject: RequestSubject) -> Iterator[Finding]:
    for index, media in _ranges(subject):
        for param in media.params_named("transfer-syntax"):
            value = param.value
            if value == transfer_syntax.WILDCARD or transfer_syntax.is_known(value):
                continue
            problem = uid_problem(value)
            why = f"not a UID ({problem})" if problem else "not a known transfer syntax"
            yield CATALOGUE["WADO-RQ-009"].finding(
                f"transfer-syntax={value[:80]}: {why}", _where(index), actual=value[:80]
            )


@CATALOGUE.rule(
    "WADO-RQ-010",
    "transfer-syntax-repeated",
    severity=ERROR,
    summary="A media range carries at most one transfer-syntax parameter",
    what="No media range repeats `transfer-syntax=`; several syntaxes are several ranges.",
    why="PS3.18 §8.7.3.5.2 allows one transfer syntax per media range; with two, which one "
    "the client wants is undefined.",
    bad='Accept: multipart/related; type="application/dicom"; '
    "transfer-syntax=1.2.840.10008.1.2.4.80; transfer-syntax=1.2.840.10008.1.2.1",
    good='Accept: multipart/related; type="application/dicom"; '
    "transfer-syntax=1.2.840.10008.1.2.4.80, "
    'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
    references=("PS3.18 §8.7.3.5.2",),
    subject="request",
)
def transfer_syntax_repeated(subject: RequestSubject) -> Iterator[Finding]:
    for index, media in _ranges(subject):
        count = len(media.params_named("transfer-syntax"))
        if count > 1:
            yield CATALOGUE["WADO-RQ-010"].finding(
                f"transfer-syntax given {count} times in one media range", _where(index)
            )


@CATALOGUE.rule(
    "WADO-RQ-011",
    "transfer-syntax-forbidden-on-web",
    severity=ERROR,
    summary="Implicit VR Little Endian and Explicit VR Big Endian are not for the web",
    what="No media range asks for 1.2.840.10008.1.2 (Implicit VR Little Endian) or "
    "1.2.840.10008.1.2.2 (Explicit VR Big Endian).",
    why="PS3.18 §8.7.3 says these transfer syntaxes shall not be used by web services; a "
    "conformant source refuses them, and Implicit VR loses the VRs a web client needs.",
    bad='Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2',
    good='Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
    references=("PS3.18 §8.7.3",),
    subject="request",
)
def transfer_syntax_forbidden(subject: RequestSubject) -> Iterator[Finding]:
    for index, media in _ranges(subject):
        for param in media.params_named("transfer-syntax"):
            if transfer_syntax.is_forbidden_on_web(param.value):
                yield CATALOGUE["WADO-RQ-011"].finding(
                    f"{transfer_syntax.name_of(param.value)} is forbidden on the web",
                    _where(index),
                    actual=param.value,
                )


@CATALOGUE.rule(
    "WADO-RQ-012",
    "q-value-invalid",
    severity=ERROR,
    summary="A q parameter must be a weight from 0 to 1 with at most three decimals",
    what="Each `q=` value matches RFC 9110's qvalue (0, 0.5, 0.875, 1, 1.000) and appears "
    "at most once per media range.",
    why="An invalid weight breaks the server's preference order (RFC 9110 §12.4.2); most "
    "servers then treat the range as q=1 and may pick a syntax the client ranked last.",
    bad='Accept: multipart/related; type="application/dicom"; q=1.5',
    good='Accept: multipart/related; type="application/dicom"; q=0.9',
    references=("RFC 9110 §12.4.2",),
    subject="request",
)
def q_value_invalid(subject: RequestSubject) -> Iterator[Finding]:
    for index, media in _ranges(subject):
        problem = media.q_problem()
        if problem is not None:
            yield CATALOGUE["WADO-RQ-012"].finding(problem, _where(index))


@CATALOGUE.rule(
    "WADO-RQ-013",
    "boundary-in-accept",
    severity=WARNING,
    summary="Accept media ranges should not carry a boundary parameter",
    what="No Accept media range has a `boundary=` parameter.",
    why="The boundary is chosen by the sender of a multipart body; PS3.18 defines no "
    "boundary parameter in Accept. Servers ignore it, so it is harmless but "
    "meaningless. The ANS reference requests send `boundary=**`: the drim-m profile "
    "lowers this to info so they pass.",
    bad='Accept: multipart/related; type="application/dicom"; boundary=**',
    good='Accept: multipart/related; type="application/dicom"',
    references=("PS3.18 §8.7.3.5", "RFC 2046 §5.1.1"),
    subject="request",
)
def boundary_in_accept(subject: RequestSubject) -> Iterator[Finding]:
    ranges = [(i, m) for i, m in _ranges(subject) if m.param("boundary") is not None]
    if ranges:
        yield CATALOGUE["WADO-RQ-013"].finding(
            f"{len(ranges)} media range(s) carry a boundary parameter "
            f"(first: range {ranges[0][0] + 1}, boundary={ranges[0][1].param('boundary')})",
            ACCEPT,
        )


@CATALOGUE.rule(
    "WADO-RQ-014",
    "accept-empty-element",
    severity=WARNING,
    summary="Accept should not hold empty list elements (e.g. a trailing comma)",
    what="The comma-separated Accept list has no empty element: no leading, doubled or "
    "trailing comma.",
    why="RFC 9110 §5.6.1 makes recipients ignore empty elements, but senders should not "
    "produce them and some strict parsers reject them. The ANS reference requests end "
    "with a trailing comma: the drim-m profile lowers this to info.",
    bad='Accept: multipart/related; type="application/dicom",',
    good='Accept: multipart/related; type="application/dicom"',
    references=("RFC 9110 §5.6.1",),
    subject="request",
)
def accept_empty_element(subject: RequestSubject) -> Iterator[Finding]:
    if subject.accept is None:
        raise NotApplicable
    if subject.accept.empty_elements:
        yield CATALOGUE["WADO-RQ-014"].finding(
            f"{subject.accept.empty_elements} empty list element(s) (e.g. a trailing comma)",
            ACCEPT,
        )


@CATALOGUE.rule(
    "WADO-RQ-015",
    "header-line-malformed",
    severity=ERROR,
    summary="Every header line must be `name: value`",
    what="Each header line has a field name (a token), a colon and a value without control "
    "characters, with no whitespace before the colon and no obsolete line folding; the "
    "header block is unambiguous (one Host, one Content-Type, Content-Length values that "
    "agree, no Content-Length beside Transfer-Encoding, chunked as the last transfer "
    "coding). Tolerated deviations are warnings: a bare LF among CRLF line endings, "
    "non-ASCII bytes in a value, a Content-Length repeated with the same value, a head "
    "over 8 KiB.",
    why="RFC 9112 §5 makes a server reject such lines (400) or risk request smuggling "
    "through a proxy that reads them differently.",
    bad="Accept multipart/related",
    good='Accept: multipart/related; type="application/dicom"',
    references=("RFC 9112 §5", "RFC 9112 §5.2", "RFC 9112 §3.2", "RFC 9112 §6.3"),
    subject="request",
)
def header_line_malformed(subject: RequestSubject) -> Iterator[Finding]:
    for problem in subject.problems:
        yield CATALOGUE["WADO-RQ-015"].finding(
            problem, Location(path="headers"), severity=WARNING if is_tolerated(problem) else None
        )


@CATALOGUE.rule(
    "WADO-RQ-016",
    "host-missing",
    severity=WARNING,
    summary="An HTTP/1.1 request should carry a Host header",
    what="An HTTP/1.1 request has a Host header field.",
    why="RFC 9112 §3.2 requires Host in every HTTP/1.1 request; a server may answer 400. "
    "A capture file may have dropped it, so this is a warning (the ANS instance sample "
    "has an absolute URL and no Host).",
    bad=f"{SERIES_TARGET} HTTP/1.1\nAccept: ...",
    good=f"{SERIES_TARGET} HTTP/1.1\nHost: source.example\nAccept: ...",
    references=("RFC 9112 §3.2",),
    subject="request",
)
def host_missing(subject: RequestSubject) -> Iterator[Finding]:
    if subject.http_version != "HTTP/1.1":
        raise NotApplicable
    if subject.header("Host") is None:
        yield CATALOGUE["WADO-RQ-016"].finding("no Host header", Location(header="Host"))


@CATALOGUE.rule(
    "WADO-RQ-017",
    "get-with-body",
    severity=WARNING,
    summary="A GET request should not carry a body",
    what="The retrieve request has no message body.",
    why="A GET body has no defined meaning (RFC 9110 §9.3.1); some servers and proxies "
    "reject or drop it, and it can desynchronise a keep-alive connection.",
    bad=f"{SERIES_TARGET}\nContent-Length: 5\n\nhello",
    good=SERIES_TARGET,
    references=("RFC 9110 §9.3.1",),
    subject="request",
)
def get_with_body(subject: RequestSubject) -> Iterator[Finding]:
    if subject.method not in ("GET", "HEAD"):
        raise NotApplicable
    if subject.has_body:
        yield CATALOGUE["WADO-RQ-017"].finding(f"{subject.method} request carries a body")
