"""DRIM (consumer side): what DRIM-M adds to a WADO-RS request: the PSC bearer token, the
KOS-SOPInstanceUID header and consistency with the KOS the consumer read. The source's
answers to them are checked in `drim_response.py`.

See DRIM-M.md: the consumer learns the series to fetch from the KOS and names that KOS in
`KOS-SOPInstanceUID`; the source checks the token (introspection at Pro Santé Connect)
and rejects a request without the KOS header (400) or with an unknown KOS (404).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

from drimlab.dicomweb.paths import Kind
from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.kos import Kos
from drimlab.domain import KOS_HEADER
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable, RequestSubject

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
AUTH = Location(header="Authorization")
KOS_AT = Location(header=KOS_HEADER)
DRIM_M = "DRIM-M (ANS, couloir imagerie): WADO-RS between DRIMBoxes"
BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
GET = "GET https://source.example/dicom-web/studies/1.2.3/series/1.2.3.4"


@CATALOGUE.rule(
    "DRIM-001",
    "authorization-missing",
    severity=ERROR,
    summary="A DRIM-M request must carry the consumer's access token",
    what="The request has an Authorization header.",
    why="The source introspects the Pro Santé Connect token to know which professional "
    "asks for the images; without it the source must answer 401 and the exam is not "
    "shared.",
    bad=f"{GET}\n(no Authorization)",
    good=f"{GET}\nAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjB9.c2ln",
    references=(DRIM_M, "RFC 6750 §2.1"),
    subject="request",
)
def authorization_missing(subject: RequestSubject) -> Iterator[Finding]:
    if subject.header("Authorization") is None:
        yield CATALOGUE["DRIM-001"].finding("no Authorization header", AUTH)


@CATALOGUE.rule(
    "DRIM-002",
    "authorization-not-bearer",
    severity=ERROR,
    summary="The Authorization header must use the Bearer scheme with a token",
    what="Authorization is `Bearer <token>` with a non-empty token in the b64token syntax.",
    why="RFC 6750 §2.1: the PSC access token is a bearer token; Basic credentials or an "
    "empty token cannot be introspected and the source answers 401.",
    bad="Authorization: Basic dXNlcjpwYXNz",
    good="Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjB9.c2ln",
    references=(DRIM_M, "RFC 6750 §2.1"),
    subject="request",
)
def authorization_not_bearer(subject: RequestSubject) -> Iterator[Finding]:
    value = subject.header("Authorization")
    if value is None:
        raise NotApplicable
    scheme, _, token = value.strip().partition(" ")
    rule = CATALOGUE["DRIM-002"]
    if scheme.lower() != "bearer":
        yield rule.finding(f"scheme {scheme[:20]!r} is not Bearer", AUTH, expected="Bearer")
    elif not re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", token.strip()):
        yield rule.finding("the bearer token is empty or has characters outside b64token", AUTH)


def _b64url_json(text: str) -> Any:
    if not BASE64URL.match(text):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return json.loads(raw)


def _token(subject: RequestSubject) -> str:
    value = subject.header("Authorization")
    if value is None:
        raise NotApplicable
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotApplicable
    return token.strip()


def _claims(token: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JWT payload, or why the token is not a structurally valid JWT."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None, f"{len(pieces)} dot-separated part(s), a JWT (JWS) has 3"
    try:
        header = _b64url_json(pieces[0])
        payload = _b64url_json(pieces[1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None, "header or payload is not base64url-encoded JSON"
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return None, "JOSE header has no alg"
    if not isinstance(payload, dict):
        return None, "payload is not a JSON object"
    if not pieces[2] or not BASE64URL.match(pieces[2]):
        return None, "signature part is empty or not base64url"
    return payload, None


@CATALOGUE.rule(
    "DRIM-003",
    "bearer-token-malformed",
    severity=WARNING,
    summary="The bearer token should be a structurally valid JWT",
    what="The token has three base64url parts; the first decodes to a JSON header with "
    "`alg`, the second to a JSON object of claims; the signature part is not empty. "
    "The signature is not verified: only the source can introspect the token at PSC.",
    why="PSC access tokens are signed JWTs (RFC 7519); a token that is not one will be "
    "refused by the source. This is a warning, not an error: a validator cannot "
    "judge a token offline anyway (the source's 401 is the real check), and captured "
    "messages routinely carry a truncated or redacted token so as not to leak a live "
    "credential - the ANS reference requests themselves carry the truncated "
    "`eyJhbGciOiJSUzI1NiIsInR5cCIgO`, and its dry run uses placeholders such as "
    "`OK_Study_token`, since the ANS validator does not judge a token offline either.",
    bad="Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCIgO",
    good="Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln",
    references=(DRIM_M, "RFC 7519 §3", "RFC 7515 §7.1"),
    subject="request",
)
def bearer_token_malformed(subject: RequestSubject) -> Iterator[Finding]:
    _, problem = _claims(_token(subject))
    if problem is not None:
        yield CATALOGUE["DRIM-003"].finding(f"token is not a JWT: {problem}", AUTH)


def _capture_time(subject: RequestSubject) -> tuple[float | None, str]:
    """When the request was captured: its Date header, else the capture's own time."""
    date = subject.header("Date")
    if date is not None:
        try:
            return parsedate_to_datetime(date.strip()).timestamp(), "its Date header"
        except (TypeError, ValueError, IndexError):
            pass
    if subject.when is not None:
        return subject.when, "the capture time"
    return None, ""


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@CATALOGUE.rule(
    "DRIM-004",
    "bearer-token-expired",
    severity=ERROR,
    summary="The bearer token must not be expired when the request is sent",
    what="When the token is a JWT with an `exp` claim, `exp` is later than the time the request "
    "was captured (its `Date` header, else the capture's time) and not earlier than its `iat`. "
    "A capture that says neither when it was made gets an info finding when the token is "
    "expired now. A placeholder token that is not a JWT (the ANS dry run's "
    "`OK_Study_token`) is DRIM-003's, not this rule's.",
    why="The source refuses an expired token (401): a consumer that sends one cannot retrieve "
    "anything. A token that expires before it is issued can never be valid. Judging at the "
    "capture time, not now, keeps a stored capture's verdict stable.",
    bad='Date: Tue, 01 Dec 2026 10:00:00 GMT\n(token claims {"exp": 1600000000})',
    good='Date: Tue, 01 Dec 2026 10:00:00 GMT\n(token claims {"exp": 4102444800})',
    references=(DRIM_M, "RFC 7519 §4.1.4", "RFC 7519 §4.1.6", "RFC 9110 §6.6.1"),
    subject="request",
)
def bearer_token_expired(subject: RequestSubject) -> Iterator[Finding]:
    claims, problem = _claims(_token(subject))
    if claims is None or problem is not None:
        raise NotApplicable
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if exp is None:
        raise NotApplicable
    rule = CATALOGUE["DRIM-004"]
    if iat is not None and exp < iat:
        yield rule.finding(
            f"token expires at {_utc(exp)}, before it was issued ({_utc(iat)})",
            AUTH,
            expected=f"exp after iat {_utc(iat)}",
            actual=f"exp {_utc(exp)}",
        )
    when, source = _capture_time(subject)
    if when is None:
        if exp < time.time():
            yield rule.finding(
                f"token expired at {_utc(exp)}; the capture has no Date header nor capture "
                "time, so whether it was expired when sent is unknown",
                AUTH,
                severity=INFO,
            )
        return
    if exp < when:
        yield rule.finding(
            f"token expired at {_utc(exp)}, before the request was sent ({source}: {_utc(when)})",
            AUTH,
            expected=f"exp after {_utc(when)}",
            actual=f"exp {_utc(exp)}",
        )


@CATALOGUE.rule(
    "DRIM-005",
    "kos-header-missing",
    severity=ERROR,
    summary="A DRIM-M request must name its KOS in KOS-SOPInstanceUID",
    what="The request has a `KOS-SOPInstanceUID` header.",
    why="The source checks that the consumer found the exam through a KOS it published; "
    "without the header it must answer 400 and nothing is shared.",
    bad=f"{GET}\n(no KOS-SOPInstanceUID)",
    good=f"{GET}\nKOS-SOPInstanceUID: 1.2.3.99",
    references=(DRIM_M,),
    subject="request",
)
def kos_header_missing(subject: RequestSubject) -> Iterator[Finding]:
    if not subject.header_values(KOS_HEADER):
        yield CATALOGUE["DRIM-005"].finding(f"no {KOS_HEADER} header", KOS_AT)


@CATALOGUE.rule(
    "DRIM-006",
    "kos-header-malformed",
    severity=ERROR,
    summary="KOS-SOPInstanceUID must hold one well-formed UID",
    what="The header appears once and its value is a valid DICOM UID (PS3.5 §9.1).",
    why="The source looks the KOS up by this UID; a malformed or repeated value cannot "
    "match and the request is refused.",
    bad="KOS-SOPInstanceUID: 1.2.03..4",
    good="KOS-SOPInstanceUID: 1.2.3.99",
    references=(DRIM_M, "PS3.5 §9.1"),
    subject="request",
)
def kos_header_malformed(subject: RequestSubject) -> Iterator[Finding]:
    values = subject.header_values(KOS_HEADER)
    if not values:
        raise NotApplicable
    rule = CATALOGUE["DRIM-006"]
    if len(values) > 1:
        yield rule.finding(f"{KOS_HEADER} appears {len(values)} times", KOS_AT)
    problem = uid_problem(values[0].strip())
    if problem is not None:
        yield rule.finding(f"{values[0][:80]!r}: {problem}", KOS_AT, actual=values[0][:80])


def _kos_and_resource(subject: RequestSubject) -> tuple[Kos, Any]:
    kos = subject.require_kos()
    if subject.resource is None:
        raise NotApplicable
    return kos, subject.resource


@CATALOGUE.rule(
    "DRIM-007",
    "kos-header-not-the-kos",
    severity=ERROR,
    summary="KOS-SOPInstanceUID must be the SOP Instance UID of the KOS used",
    what="With a KOS given, the header equals that KOS's SOP Instance UID (0008,0018).",
    why="The source answers 404 to a KOS it does not know for the study; a consumer that "
    "sends another UID (the study's, a series') cannot retrieve anything.",
    bad="KOS-SOPInstanceUID: 1.2.3.4  (the series UID)",
    good="KOS-SOPInstanceUID: 1.2.3.99  (the KOS's SOP Instance UID)",
    references=(DRIM_M,),
    subject="request",
)
def kos_header_not_the_kos(subject: RequestSubject) -> Iterator[Finding]:
    kos = subject.require_kos()
    value = subject.header(KOS_HEADER)
    if value is None:
        raise NotApplicable
    if value.strip() != kos.sop_instance_uid:
        yield CATALOGUE["DRIM-007"].finding(
            f"{KOS_HEADER} {value.strip()[:80]} is not the KOS {kos.sop_instance_uid}",
            KOS_AT,
            expected=kos.sop_instance_uid,
            actual=value.strip()[:80],
        )


@CATALOGUE.rule(
    "DRIM-008",
    "study-not-the-kos-study",
    severity=ERROR,
    summary="The requested study must be the study of the KOS",
    what="With a KOS given, the study UID of the target equals the KOS's Study Instance UID.",
    why="A KOS authorises the retrieval of its own exam only; the source answers 404.",
    bad="GET .../studies/9.9.9/...  with a KOS of study 1.2.3",
    good="GET .../studies/1.2.3/...  with a KOS of study 1.2.3",
    references=(DRIM_M,),
    subject="request",
)
def study_not_the_kos_study(subject: RequestSubject) -> Iterator[Finding]:
    kos, resource = _kos_and_resource(subject)
    if resource.study != kos.study_instance_uid:
        yield CATALOGUE["DRIM-008"].finding(
            f"study {resource.study} is not the KOS study {kos.study_instance_uid}",
            Location(path="request-target"),
            expected=kos.study_instance_uid,
            actual=resource.study,
        )


@CATALOGUE.rule(
    "DRIM-009",
    "series-not-in-kos",
    severity=ERROR,
    summary="The requested series must be one the KOS references",
    what="With a KOS given, the series UID of the target is a series of the KOS evidence.",
    why="The consumer builds its requests from the KOS Retrieve URLs; another series is "
    "not part of the shared exam and the source refuses it.",
    bad="GET .../series/1.2.3.77  (not in the KOS)",
    good="GET .../series/1.2.3.4  (a ReferencedSeriesSequence item of the KOS)",
    references=(DRIM_M, "PS3.3 C.17.6 (Key Object Document)"),
    subject="request",
)
def series_not_in_kos(subject: RequestSubject) -> Iterator[Finding]:
    kos, resource = _kos_and_resource(subject)
    if resource.series is None:
        raise NotApplicable
    if kos.series_by_uid(resource.series) is None:
        yield CATALOGUE["DRIM-009"].finding(
            f"series {resource.series} is not referenced by the KOS",
            Location(path="request-target"),
            actual=resource.series,
        )


@CATALOGUE.rule(
    "DRIM-010",
    "instance-not-in-kos",
    severity=ERROR,
    summary="The requested instance must be one the KOS references",
    what="With a KOS given, an instance-level target names a SOP Instance of the KOS "
    "evidence, in the series the KOS gives for it.",
    why="Only the instances the KOS lists are shared; the source refuses others.",
    bad="GET .../series/1.2.3.4/instances/1.2.3.4.999",
    good="GET .../series/1.2.3.4/instances/1.2.3.4.1  (listed in the KOS)",
    references=(DRIM_M,),
    subject="request",
)
def instance_not_in_kos(subject: RequestSubject) -> Iterator[Finding]:
    kos, resource = _kos_and_resource(subject)
    if resource.instance is None or resource.series is None:
        raise NotApplicable
    series = kos.series_by_uid(resource.series)
    if series is None:
        raise NotApplicable
    if all(i.sop_instance_uid != resource.instance for i in series.instances):
        yield CATALOGUE["DRIM-010"].finding(
            f"instance {resource.instance} is not listed in the KOS for series {resource.series}",
            Location(path="request-target"),
            actual=resource.instance,
        )


@CATALOGUE.rule(
    "DRIM-011",
    "resource-not-a-drim-m-retrieve",
    severity=WARNING,
    summary="DRIM-M retrieves studies, series, instances or frames",
    what="The target is a Retrieve Study, Series, Instance or Frames resource (not metadata, "
    "rendered, thumbnail or bulkdata).",
    why="DRIM-M consumers retrieve what the KOS lists (series by series in the b<>com PoC); the "
    "ANS dry run also sends study, instance and frames requests and labels them OK. Sources "
    "are not required to serve the other resources between DRIMBoxes.",
    bad="GET .../studies/1.2.3/metadata",
    good="GET .../studies/1.2.3/series/1.2.3.4",
    references=(DRIM_M,),
    subject="request",
)
def resource_not_a_drim_retrieve(subject: RequestSubject) -> Iterator[Finding]:
    resource = subject.resource
    if resource is None:
        raise NotApplicable
    if resource.kind not in (Kind.INSTANCES, Kind.FRAMES):
        yield CATALOGUE["DRIM-011"].finding(
            f"{resource.level.value} {resource.kind.value} is not a DRIM-M retrieve",
            Location(path="request-target"),
        )


@CATALOGUE.rule(
    "DRIM-012",
    "base-url-not-the-kos-base",
    severity=WARNING,
    summary="An absolute target should use the base URL of the KOS Retrieve URL",
    what="With a KOS given and an absolute URL in the request, the part before `/studies` "
    "equals the base of the KOS series' Retrieve URL (0008,1190).",
    why="The consumer must fetch from where the KOS says the images are; another host "
    "means it ignored the Retrieve URL.",
    bad="GET https://other.example/wado/studies/...  (KOS says https://source.example/dicom-web)",
    good="GET https://source.example/dicom-web/studies/...",
    references=(DRIM_M, "PS3.3 C.17.6 (Retrieve URL)"),
    subject="request",
)
def base_url_not_the_kos_base(subject: RequestSubject) -> Iterator[Finding]:
    kos, resource = _kos_and_resource(subject)
    if "://" not in resource.base or not kos.base_url:
        raise NotApplicable
    if resource.base.rstrip("/") != kos.base_url.rstrip("/"):
        yield CATALOGUE["DRIM-012"].finding(
            f"base {resource.base} differs from the KOS base {kos.base_url}",
            Location(path="request-target"),
            expected=kos.base_url,
            actual=resource.base,
        )


@CATALOGUE.rule(
    "DRIM-013",
    "request-target-not-https",
    severity=ERROR,
    summary="A DRIM-M request must not target an http:// URL",
    what="When the request target is an absolute URL (as in the ANS samples), its scheme is https.",
    why="DRIM-M exchanges between DRIMBoxes are mutual TLS: only ACME, CRL, CA and OCSP "
    "downloads may travel in plain HTTP. A consumer that sends image requests in clear "
    "exposes the patient's identity and its token. A debugging run over plain HTTP still "
    "runs and its report keeps the error. (A KOS Retrieve URL in http:// stays a warning, "
    "KOS-013: the ANS's own KOS samples point at http://localhost:4200.)",
    bad="GET http://source.example/dicom-web/studies/1.2.3/series/1.2.3.4 HTTP/1.1",
    good="GET https://source.example/dicom-web/studies/1.2.3/series/1.2.3.4 HTTP/1.1",
    references=(DRIM_M, "DRIM-M: TLS between DRIMBoxes (only ACME, CRL, CA, OCSP in HTTP)"),
    subject="request",
)
def request_target_not_https(subject: RequestSubject) -> Iterator[Finding]:
    target = subject.target.strip()
    if "://" not in target:
        raise NotApplicable
    if not target.lower().startswith("https://"):
        yield CATALOGUE["DRIM-013"].finding(
            f"the request targets {target.split('://', 1)[0]}://, not https://",
            Location(path="request-target"),
            expected="https://",
            actual=target[:120],
        )
