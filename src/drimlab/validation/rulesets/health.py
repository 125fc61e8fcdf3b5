"""HEALTH: the health check the ANS client simulator sends a source, `GET {base}`.

Not a PS3.18 transaction: the ANS tooling checks that a DRIMBox source is up by asking its
WADO-RS base (everything before `/studies`) for `application/json`, e.g.
`GET https://host:port/dcm4chee-arc/aets/NAME/rs`. `validation.health` recognises the
request; HEALTH-001..003 judge it (when the consumer is under test), HEALTH-010..011 the
source's answer (when the source is).
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.health import JSON, HealthSubject
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable

ERROR, WARNING = Severity.ERROR, Severity.WARNING
ANS_HEALTH = (
    "DRIM-M: the ANS client simulator's health check (GET {base}, accept: application/json)"
)
GOOD = "GET https://source.example/dcm4chee-arc/aets/DCM4CHEE/rs\naccept: application/json"


@CATALOGUE.rule(
    "HEALTH-001",
    "health-check-not-get",
    severity=ERROR,
    summary="A health check is a GET (or HEAD) of the WADO-RS base",
    what="The health check's method is GET, or HEAD.",
    why="The ANS client simulator and DRIMBox sources agree on `GET {base}`; any other method is "
    "answered 405 and says nothing about whether the source is up.",
    bad="POST https://source.example/dcm4chee-arc/aets/DCM4CHEE/rs",
    good=GOOD,
    references=(ANS_HEALTH, "RFC 9110 §9.3.1"),
    subject="health-check",
)
def health_check_not_get(subject: HealthSubject) -> Iterator[Finding]:
    if subject.method not in ("GET", "HEAD"):
        yield CATALOGUE["HEALTH-001"].finding(
            f"method {subject.method[:16]} is not GET",
            Location(path="method"),
            expected="GET",
            actual=subject.method[:16],
        )


@CATALOGUE.rule(
    "HEALTH-002",
    "health-check-accept-not-json",
    severity=WARNING,
    summary="A health check should ask for application/json",
    what="The health check has an Accept header naming `application/json`.",
    why="The ANS client simulator sends `accept: application/json` and reads a JSON status; a "
    "source may answer anything else with 406 or an HTML page the checker cannot read.",
    bad="GET https://source.example/dicom-web\n(no Accept header)",
    good=GOOD,
    references=(ANS_HEALTH, "RFC 9110 §12.5.1"),
    subject="health-check",
)
def health_check_accept_not_json(subject: HealthSubject) -> Iterator[Finding]:
    ranges = subject.accept.ranges if subject.accept is not None else ()
    if not any(r.essence == JSON and r.q > 0 for r in ranges):
        shown = ", ".join(r.essence for r in ranges) or "none"
        yield CATALOGUE["HEALTH-002"].finding(
            f"Accept asks for {shown}, not {JSON}",
            Location(header="Accept"),
            expected=JSON,
            actual=shown[:200],
        )


@CATALOGUE.rule(
    "HEALTH-003",
    "health-check-not-at-kos-base",
    severity=WARNING,
    summary="A health check should ask the base of the KOS Retrieve URL",
    what="With a KOS given, the health check's target is the WADO-RS base of the KOS's "
    "Retrieve URLs (everything before `/studies`).",
    why="The consumer must check the source it is about to retrieve from; another base checks "
    "another server.",
    bad="GET https://other.example/wado  (the KOS says https://source.example/dicom-web)",
    good="GET https://source.example/dicom-web",
    references=(ANS_HEALTH, "PS3.3 C.17.6 (Retrieve URL)"),
    subject="health-check",
)
def health_check_not_at_kos_base(subject: HealthSubject) -> Iterator[Finding]:
    kos = subject.kos
    if kos is None or not kos.base_url:
        raise NotApplicable
    target, base = subject.target.rstrip("/"), kos.base_url.rstrip("/")
    same = target == base if "://" in target else base.endswith(target) and bool(target)
    if not same:
        yield CATALOGUE["HEALTH-003"].finding(
            f"the health check asks {target[:120]}, the KOS's base is {base[:120]}",
            Location(path="request-target"),
            expected=base,
            actual=target[:200],
        )


def _answered(subject: HealthSubject) -> int:
    if subject.status is None:
        raise NotApplicable
    return subject.status


@CATALOGUE.rule(
    "HEALTH-010",
    "health-check-not-answered-200",
    severity=ERROR,
    summary="A source must answer its health check with 200",
    what="The source answers `GET {base}` with 200 (a small status, JSON when asked).",
    why="The ANS client simulator takes any other answer as a source that is down (or not at "
    "this base): the homologation cannot go on. Orthanc's DICOMweb plugin has no route at its "
    "root and answers 404; a DRIMBox built on it must answer the health check in front of it.",
    bad="GET https://source.example/dicom-web  ->  HTTP/1.1 404 Not Found",
    good='GET https://source.example/dicom-web  ->  HTTP/1.1 200 OK\n{"status": "UP"}',
    references=(ANS_HEALTH, "RFC 9110 §15.3.1"),
    subject="health-answer",
)
def health_check_not_answered_200(subject: HealthSubject) -> Iterator[Finding]:
    status = _answered(subject)
    if status != 200:
        yield CATALOGUE["HEALTH-010"].finding(
            f"the health check was answered {status}",
            Location(path="status"),
            expected="200",
            actual=str(status),
        )


@CATALOGUE.rule(
    "HEALTH-011",
    "health-answer-not-json",
    severity=WARNING,
    summary="A health check asking JSON should be answered with a JSON body",
    what="When the health check asked for `application/json` and got 200, the answer's "
    "Content-Type is `application/json` (or a `+json` type) and its body parses as JSON.",
    why="The checker reads the status it asked for; an HTML page or an empty body says the "
    "server is up but not that the DRIMBox service is.",
    bad="HTTP/1.1 200 OK\nContent-Type: text/html\n\n<html>It works!</html>",
    good='HTTP/1.1 200 OK\nContent-Type: application/json\n\n{"status": "UP"}',
    references=(ANS_HEALTH, "RFC 8259"),
    subject="health-answer",
)
def health_answer_not_json(subject: HealthSubject) -> Iterator[Finding]:
    if _answered(subject) != 200 or subject.body is None:
        raise NotApplicable
    ranges = subject.accept.ranges if subject.accept is not None else ()
    if not any(r.essence == JSON for r in ranges):
        raise NotApplicable
    content_type = (subject.response_header("Content-Type") or "").split(";")[0].strip().lower()
    rule = CATALOGUE["HEALTH-011"]
    if content_type != JSON and not content_type.endswith("+json"):
        yield rule.finding(
            f"Content-Type is {content_type or 'absent'}",
            Location(header="Content-Type"),
            expected=JSON,
            actual=content_type or None,
        )
    elif subject.json_body is None:
        yield rule.finding("the body is not JSON", Location(path="body"))
