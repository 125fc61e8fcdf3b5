"""WADO-RS: the WADO-RS response headers (PS3.18 §8.4, §8.7, §10.4.3; RFC 9110/9112; RFC 2387).

Status, Content-Type and its parameters, and the framing headers. The body rules are in
`body.py`, the part rules (Content-Type, transfer syntax, membership) in `part.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.dicomweb import transfer_syntax
from drimlab.dicomweb.http1 import TOLERATED, ProblemCode, problem_code
from drimlab.dicomweb.media import accepted_transfer_syntaxes, parse_media_type
from drimlab.dicomweb.paths import Kind, Level
from drimlab.dicomweb.uids import is_valid_uid
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable, ResponseSubject

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
CONTENT_TYPE = Location(header="Content-Type")
BODY = Location(path="body")
OK_CT = 'Content-Type: multipart/related; type="application/dicom"; boundary=b1'
KNOWN_STATUSES = {200, 206, 400, 401, 403, 404, 406, 410, 413, 414, 429, 503}


def success_only(response: ResponseSubject) -> None:
    """Stop a rule (NotApplicable) unless the status is 200 or 206."""
    if response.status not in (200, 206):
        raise NotApplicable


def _instances_retrieve(response: ResponseSubject) -> None:
    """Only for retrieves of instances (not metadata, rendered, frames, bulkdata)."""
    request = response.request
    if request is not None and (
        request.resource is None or request.resource.kind is not Kind.INSTANCES
    ):
        raise NotApplicable


@CATALOGUE.rule(
    "WADO-RS-001",
    "status-unexpected",
    severity=ERROR,
    summary="The status must be one PS3.18 defines for Retrieve",
    what="The status is 200, 206, or an error status PS3.18 names (400, 401, 403, 404, 406, "
    "410, 413, 414, 429, 503). 5xx other than 503 and other 2xx are errors; 3xx is a warning.",
    why="A consumer acts on the status (PS3.18 §10.4.3, DRIM-M: 200 and 206 are success); "
    "a 500 means the source failed, a 204 or 3xx is not part of the transaction.",
    bad="HTTP/1.1 500 Internal Server Error",
    good="HTTP/1.1 200 OK",
    references=("PS3.18 §10.4.3", "PS3.18 §8.4"),
    subject="response",
)
def status_unexpected(response: ResponseSubject) -> Iterator[Finding]:
    status = response.status
    if status in KNOWN_STATUSES:
        return
    severity = WARNING if 300 <= status < 400 else ERROR
    yield CATALOGUE["WADO-RS-001"].finding(
        f"status {status} is not a WADO-RS Retrieve status",
        Location(path="status"),
        actual=str(status),
        severity=severity,
    )


@CATALOGUE.rule(
    "WADO-RS-002",
    "success-for-invalid-request",
    severity=ERROR,
    summary="A malformed request must not be answered with success",
    what="When the request target is not a WADO-RS resource or holds a malformed UID, the "
    "status is 4xx, not 200 or 206.",
    why="PS3.18 §8.1 and §10.4.3: a malformed UID or target is a 400; a source that answers "
    "200 hides the client's fault and may return unrelated data.",
    bad="GET /dicom-web/studies/1..2  ->  HTTP/1.1 200 OK",
    good="GET /dicom-web/studies/1..2  ->  HTTP/1.1 400 Bad Request",
    references=("PS3.18 §8.1", "PS3.18 §10.4.3"),
    subject="response",
)
def success_for_invalid_request(response: ResponseSubject) -> Iterator[Finding]:
    request = response.require_request()
    success_only(response)
    if request.path_error is not None:
        reason = request.path_error
    elif request.resource is not None and not all(
        is_valid_uid(uid) for _, uid in request.resource.uids()
    ):
        reason = "the target holds a malformed UID"
    else:
        return
    yield CATALOGUE["WADO-RS-002"].finding(
        f"status {response.status} although {reason}", Location(path="status"), expected="400"
    )


@CATALOGUE.rule(
    "WADO-RS-003",
    "content-type-missing-or-unparseable",
    severity=ERROR,
    summary="A successful response must have a parseable Content-Type",
    what="A 200 or 206 response has one Content-Type header that parses as a media type.",
    why="Without it the consumer cannot find the multipart boundary nor the part type "
    "(RFC 9110 §8.3, PS3.18 §8.7).",
    bad="HTTP/1.1 200 OK\n(no Content-Type)",
    good=f"HTTP/1.1 200 OK\n{OK_CT}",
    references=("RFC 9110 §8.3", "PS3.18 §8.7"),
    subject="response",
)
def content_type_missing(response: ResponseSubject) -> Iterator[Finding]:
    success_only(response)
    rule = CATALOGUE["WADO-RS-003"]
    if response.header("Content-Type") is None:
        yield rule.finding("no Content-Type header", CONTENT_TYPE)
    elif response.content_type_error is not None:
        yield rule.finding(response.content_type_error, CONTENT_TYPE)


@CATALOGUE.rule(
    "WADO-RS-004",
    "response-not-multipart-related",
    severity=ERROR,
    summary="Instances are returned as multipart/related",
    what="A successful retrieve of a study, series or instance answers `multipart/related` "
    "(or `application/dicom` for a single instance when the client accepted it).",
    why="PS3.18 §10.4.3 returns instances in a multipart/related payload; a consumer that "
    "asked for multipart cannot read anything else.",
    bad="HTTP/1.1 200 OK\nContent-Type: application/dicom+json",
    good=f"HTTP/1.1 200 OK\n{OK_CT}",
    references=("PS3.18 §10.4.3", "PS3.18 §8.7.3"),
    subject="response",
)
def response_not_multipart(response: ResponseSubject) -> Iterator[Finding]:
    success_only(response)
    _instances_retrieve(response)
    media = response.content_type
    if media is None:
        raise NotApplicable
    if media.essence == "multipart/related":
        return
    request = response.request
    if media.essence == "application/dicom":
        single_ok = request is None or (
            request.resource is not None
            and request.resource.level is Level.INSTANCE
            and request.accept is not None
            and any(r.essence == "application/dicom" for r in request.accept.ranges)
        )
        if single_ok:
            return
    yield CATALOGUE["WADO-RS-004"].finding(
        f"Content-Type {media.essence} is not multipart/related",
        CONTENT_TYPE,
        expected="multipart/related",
        actual=media.essence,
    )


@CATALOGUE.rule(
    "WADO-RS-005",
    "multipart-type-missing-or-not-accepted",
    severity=ERROR,
    summary="The multipart/related response must name a part type the client accepted",
    what="The response Content-Type has a `type` parameter, and (with the request) that "
    "type is one the request's Accept asked for.",
    why="RFC 2387 §3.1 requires `type`; PS3.18 §8.7 makes the server return a media type "
    "the client accepts, otherwise 406.",
    bad="Content-Type: multipart/related; boundary=b1",
    good=OK_CT,
    references=("RFC 2387 §3.1", "PS3.18 §8.7.3"),
    subject="response",
)
def multipart_type(response: ResponseSubject) -> Iterator[Finding]:
    success_only(response)
    media = response.content_type
    if media is None or media.essence != "multipart/related":
        raise NotApplicable
    rule = CATALOGUE["WADO-RS-005"]
    part_type = media.param("type")
    if part_type is None:
        yield rule.finding("multipart/related without a type parameter", CONTENT_TYPE)
        return
    request = response.request
    if request is None or request.accept is None:
        return
    wanted = part_type.strip().lower()
    for media_range in request.accept.ranges:
        if media_range.q <= 0:
            continue
        if media_range.essence in ("*/*", "multipart/*"):
            return
        inner = media_range.param("type")
        if media_range.essence == "multipart/related" and (
            inner is None or type_covers(inner, wanted)
        ):
            return
    yield rule.finding(
        f"type={part_type} was not asked for in Accept", CONTENT_TYPE, actual=part_type
    )


def type_covers(inner: str, wanted: str) -> bool:
    """True when the media range `inner` (a `type` parameter value) covers `wanted`."""
    try:
        return parse_media_type(inner).matches(wanted)
    except ValueError:
        return False


@CATALOGUE.rule(
    "WADO-RS-006",
    "boundary-missing",
    severity=ERROR,
    summary="A multipart response must carry a boundary parameter",
    what="The multipart Content-Type has a non-empty `boundary` of at most 70 characters.",
    why="RFC 2046 §5.1.1: the boundary is how the parts are found; without it the body "
    "cannot be split.",
    bad='Content-Type: multipart/related; type="application/dicom"',
    good=OK_CT,
    references=("RFC 2046 §5.1.1", "PS3.18 §8.7.3"),
    subject="response",
)
def boundary_missing(response: ResponseSubject) -> Iterator[Finding]:
    success_only(response)
    media = response.content_type
    if media is None or media.type != "multipart":
        raise NotApplicable
    boundary = media.param("boundary")
    rule = CATALOGUE["WADO-RS-006"]
    if not boundary:
        yield rule.finding("multipart Content-Type without a boundary", CONTENT_TYPE)
    elif len(boundary) > 70:
        yield rule.finding(f"boundary has {len(boundary)} characters (max 70)", CONTENT_TYPE)


@CATALOGUE.rule(
    "WADO-RS-007",
    "content-type-parameter-unquoted",
    severity=ERROR,
    summary="Content-Type parameter values that are not tokens must be quoted",
    what="In the response Content-Type, `type`, `boundary`, `start` and every other "
    "parameter value containing a non-token character (`/`, `<`, `@`, `:` ...) is quoted.",
    why="RFC 9110 §5.6.6 and RFC 2045 §5.1: an unquoted value with such characters is not "
    "a valid parameter; strict clients cut it at the first special character and then "
    "cannot find the boundary or the part type.",
    bad="Content-Type: multipart/related; type=application/dicom; boundary=b1",
    good=OK_CT,
    references=("RFC 9110 §5.6.6", "RFC 2045 §5.1", "RFC 2387 §3"),
    subject="response",
)
def content_type_parameter_unquoted(response: ResponseSubject) -> Iterator[Finding]:
    media = response.content_type
    if media is None:
        raise NotApplicable
    for param in media.parameters:
        if param.badly_unquoted:
            yield CATALOGUE["WADO-RS-007"].finding(
                f"{param.name}={param.value} needs quotes",
                CONTENT_TYPE,
                expected=f'{param.name}="{param.value}"',
            )


@CATALOGUE.rule(
    "WADO-RS-008",
    "body-delimited-by-close",
    severity=WARNING,
    summary="A response body should be delimited by Content-Length or chunked coding",
    what="A 200/206 response has Content-Length or Transfer-Encoding: chunked.",
    why="A body ended only by closing the connection is legal HTTP/1.1 (RFC 9112 §6.3) "
    "but a consumer cannot tell a complete body from a cut one, and proxies may buffer "
    "it. Orthanc does this on study and series retrieves.",
    bad=f"HTTP/1.1 200 OK\n{OK_CT}\n(no Content-Length, no Transfer-Encoding)",
    good=f"HTTP/1.1 200 OK\n{OK_CT}\nTransfer-Encoding: chunked",
    references=("RFC 9112 §6.3",),
    subject="response",
)
def body_delimited_by_close(response: ResponseSubject) -> Iterator[Finding]:
    success_only(response)
    if response.header("Content-Length") is None and response.header("Transfer-Encoding") is None:
        yield CATALOGUE["WADO-RS-008"].finding(
            "neither Content-Length nor Transfer-Encoding: the body ends when the connection closes"
        )


# WADO-RS-009 judges these against the body when the body was captured: one finding, not two.
_JUDGED_WITH_BODY = frozenset(
    {ProblemCode.CONTENT_LENGTH_INVALID, ProblemCode.CONTENT_LENGTH_WITH_TRANSFER_ENCODING}
)


@CATALOGUE.rule(
    "WADO-RS-011",
    "response-header-line-malformed",
    severity=ERROR,
    summary="Every response header line must be `name: value`",
    what="Each response header line has a field name (a token), a colon and a value without "
    "control characters, without obsolete line folding; the header block is unambiguous "
    "(one Content-Type, Content-Length values that agree and no Content-Length beside "
    "Transfer-Encoding). Tolerated deviations are warnings: a bare LF among CRLF line "
    "endings, non-ASCII bytes in a value, a Content-Length repeated with the same value, "
    "a head over 8 KiB.",
    why="RFC 9112 §5: clients reject such responses or read them differently from proxies.",
    bad="HTTP/1.1 200 OK\nContent-Type multipart/related",
    good=f"HTTP/1.1 200 OK\n{OK_CT}",
    references=("RFC 9112 §5", "RFC 9112 §2.2", "RFC 9110 §5.5", "RFC 9112 §6.3"),
    subject="response",
)
def response_header_line_malformed(response: ResponseSubject) -> Iterator[Finding]:
    for problem in response.problems:
        code = problem_code(problem)
        if code in _JUDGED_WITH_BODY and response.body is not None:
            continue
        yield CATALOGUE["WADO-RS-011"].finding(
            problem, Location(path="headers"), severity=WARNING if code in TOLERATED else None
        )


@CATALOGUE.rule(
    "WADO-RS-012",
    "partial-content-without-warning",
    severity=WARNING,
    summary="A 206 response should explain what is missing in a Warning header",
    what="A 206 Partial Content retrieve has a `Warning: 299 ...` header.",
    why="PS3.18 §10.4.3 lets a server return only some instances with 206 and a Warning "
    "explaining why; without it the consumer cannot tell the user what is missing.",
    bad="HTTP/1.1 206 Partial Content\n(no Warning)",
    good='HTTP/1.1 206 Partial Content\nWarning: 299 source: "2 instances unavailable"',
    references=("PS3.18 §10.4.3", "PS3.18 §8.4.2"),
    subject="response",
)
def partial_without_warning(response: ResponseSubject) -> Iterator[Finding]:
    if response.status != 206:
        raise NotApplicable
    if response.header("Warning") is None:
        yield CATALOGUE["WADO-RS-012"].finding("206 without a Warning header")


@CATALOGUE.rule(
    "WADO-RS-014",
    "not-acceptable-despite-default",
    severity=WARNING,
    summary="A 406 is suspicious when the request accepts Explicit VR Little Endian",
    what="A retrieve of instances is not answered 406 when its Accept allows "
    "`application/dicom` in Explicit VR Little Endian (named, implied by a range without "
    "transfer-syntax, or `*`).",
    why="PS3.18 §8.7.3 makes Explicit VR Little Endian the default every origin server can "
    "produce (unless it only holds lossy data); refusing it leaves the consumer with "
    "nothing to show.",
    bad='Accept: multipart/related; type="application/dicom"\n  ->  HTTP/1.1 406 Not Acceptable',
    good='Accept: multipart/related; type="application/dicom"\n  ->  HTTP/1.1 200 OK',
    references=("PS3.18 §8.7.3", "PS3.18 §10.4.3"),
    subject="response",
)
def not_acceptable_despite_default(response: ResponseSubject) -> Iterator[Finding]:
    request = response.require_request()
    if response.status != 406 or request.accept is None or request.resource is None:
        raise NotApplicable
    if request.resource.kind is not Kind.INSTANCES:
        raise NotApplicable
    if accepted_transfer_syntaxes(request.accept).allows(transfer_syntax.DEFAULT):
        yield CATALOGUE["WADO-RS-014"].finding(
            "406 although the request accepts Explicit VR Little Endian",
            Location(path="status"),
        )
