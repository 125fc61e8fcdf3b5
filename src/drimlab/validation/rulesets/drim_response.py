"""DRIM (source side): what a DRIMBox source's answer must respect: refusing a request that
names no KOS, HSTS, and returning exactly the instances the KOS lists for the request.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.dicomweb.paths import Kind
from drimlab.dicomweb.uids import uid_problem
from drimlab.domain import KOS_HEADER
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.drim import DRIM_M
from drimlab.validation.rulesets.identity import expected_identity
from drimlab.validation.subjects import NotApplicable, PartSubject, ResponseSubject

ERROR, WARNING = Severity.ERROR, Severity.WARNING


@CATALOGUE.rule(
    "DRIM-020",
    "answered-without-kos-header",
    severity=ERROR,
    summary="A source must not serve a request that names no KOS",
    what="When the request has no valid KOS-SOPInstanceUID header, the status is 400, not "
    "200 or 206.",
    why="DRIM-M makes the source reject such a request (400): serving it would share "
    "images outside any KOS the patient's record holds.",
    bad="(request without KOS-SOPInstanceUID)  ->  HTTP/1.1 200 OK",
    good="(request without KOS-SOPInstanceUID)  ->  HTTP/1.1 400 Bad Request",
    references=(DRIM_M,),
    subject="response",
)
def answered_without_kos_header(response: ResponseSubject) -> Iterator[Finding]:
    request = response.require_request()
    if response.status not in (200, 206):
        raise NotApplicable
    values = request.header_values(KOS_HEADER)
    if not values or uid_problem(values[0].strip()) is not None:
        yield CATALOGUE["DRIM-020"].finding(
            f"status {response.status} to a request without a valid {KOS_HEADER}",
            Location(path="status"),
            expected="400",
        )


@CATALOGUE.rule(
    "DRIM-021",
    "hsts-missing",
    severity=WARNING,
    summary="A DRIMBox response should carry Strict-Transport-Security",
    what="The response has a Strict-Transport-Security header.",
    why="DRIM-M traffic is TLS only; HSTS keeps browsers and viewers from falling back to "
    "plain HTTP (RFC 6797). The ANS reference response carries it.",
    bad="HTTP/1.1 200 OK\n(no Strict-Transport-Security)",
    good="HTTP/1.1 200 OK\nStrict-Transport-Security: max-age=63072000",
    references=(DRIM_M, "RFC 6797 §6.1"),
    subject="response",
)
def hsts_missing(response: ResponseSubject) -> Iterator[Finding]:
    if response.header("Strict-Transport-Security") is None:
        yield CATALOGUE["DRIM-021"].finding(
            "no Strict-Transport-Security header", Location(header="Strict-Transport-Security")
        )


def _expected_from_kos(response: ResponseSubject) -> dict[str, str]:
    """SOP Instance UID -> SOP Class UID of what the KOS says this request should return."""
    kos = response.require_kos()
    request = response.require_request()
    response.require_body()
    resource = request.resource
    if response.status not in (200, 206) or resource is None:
        raise NotApplicable
    if resource.kind is not Kind.INSTANCES or resource.study != kos.study_instance_uid:
        raise NotApplicable
    chosen = [s for s in kos.series if resource.series in (None, s.series_instance_uid)]
    if not chosen:
        raise NotApplicable
    expected = {i.sop_instance_uid: i.sop_class_uid for s in chosen for i in s.instances}
    if resource.instance is not None:
        if resource.instance not in expected:
            raise NotApplicable
        expected = {resource.instance: expected[resource.instance]}
    return expected


@CATALOGUE.rule(
    "DRIM-022",
    "kos-instance-missing",
    severity=ERROR,
    summary="Every instance the KOS lists for the requested resource must be returned",
    what="With a KOS given, each SOP Instance the KOS references in the requested series "
    "(or study, or the requested instance) is a part of the response. On a 206 a "
    "missing instance is a warning (partial content is announced).",
    why="DRIM-M_SO_REPONSE_WADO: the source must answer with exactly the images of the "
    "series; a missing image is a missing piece of the patient's exam.",
    bad="(KOS lists 10 instances of the series, the response has 9 parts)",
    good="(KOS lists 10 instances, the response has those 10)",
    references=(DRIM_M, "PS3.18 §10.4.3"),
    subject="body",
)
def kos_instance_missing(response: ResponseSubject) -> Iterator[Finding]:
    expected = _expected_from_kos(response)
    body = response.require_body()
    got = {p.dicom.sop_instance_uid for p in body.parts}
    missing = sorted(set(expected) - got)
    if missing:
        yield CATALOGUE["DRIM-022"].finding(
            f"{len(missing)} instance(s) of the KOS missing, first {missing[0]}",
            Location(path="body"),
            expected=str(len(expected)),
            actual=str(len(expected) - len(missing)),
            severity=WARNING if response.status == 206 else None,
        )


@CATALOGUE.rule(
    "DRIM-023",
    "instance-not-listed-in-kos",
    severity=WARNING,
    summary="Instances the KOS does not list should not be returned",
    what="With a KOS given, every returned SOP Instance is one the KOS references for the "
    "requested resource.",
    why="The KOS defines what is shared; extra instances (e.g. added to the series after "
    "publication) may not be meant for this physician. A warning: the study is the "
    "patient's.",
    bad="(response has an instance 1.2.3.4.99 the KOS does not list)",
    good="(every part is listed in the KOS)",
    references=(DRIM_M,),
    subject="body",
)
def instance_not_listed_in_kos(response: ResponseSubject) -> Iterator[Finding]:
    expected = _expected_from_kos(response)
    body = response.require_body()
    for part in body.parts:
        uid = part.dicom.sop_instance_uid
        if uid and uid not in expected:
            yield CATALOGUE["DRIM-023"].finding(
                f"instance {uid} is not listed in the KOS", Location(part=part.index), actual=uid
            )


@CATALOGUE.rule(
    "DRIM-024",
    "sop-class-differs-from-kos",
    severity=ERROR,
    summary="A returned instance must have the SOP Class the KOS gives for it",
    what="With a KOS given, each returned instance the KOS lists has the SOP Class UID the "
    "KOS's ReferencedSOPSequence gives.",
    why="A different class means a different object behind the same UID (or a corrupt "
    "KOS); the viewer would show the wrong thing.",
    bad="(KOS: CT Image Storage; part: Secondary Capture with the same SOP Instance UID)",
    good="(KOS and part agree on 1.2.840.10008.5.1.4.1.1.2)",
    references=(DRIM_M, "PS3.3 C.17.6.2.1"),
    subject="body",
)
def sop_class_differs_from_kos(response: ResponseSubject) -> Iterator[Finding]:
    expected = _expected_from_kos(response)
    body = response.require_body()
    for part in body.parts:
        uid = part.dicom.sop_instance_uid
        wanted = expected.get(uid or "")
        if wanted and part.dicom.sop_class_uid and part.dicom.sop_class_uid != wanted:
            yield CATALOGUE["DRIM-024"].finding(
                f"instance {uid} is {part.dicom.sop_class_uid}, the KOS says {wanted}",
                Location(part=part.index),
                expected=f"KOS: {expected_identity(PartSubject(part, response))}",
                actual=f"part: {part.dicom.identity}",
            )
