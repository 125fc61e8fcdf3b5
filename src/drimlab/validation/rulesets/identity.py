"""Patient safety: every part is the patient, study, series, SOP class and instance it should be.

An image of another patient shown inside this patient's exam is the worst a DRIM-M exchange can
do. These rules compare each part's identity (its patient identifiers with their issuers and
the INS, its study, series, SOP class and instance) with the other parts of the response
(DICOM-010) and with the KOS the consumer read (DRIM-025, DRIM-026). Every finding shows both
identities side by side: `expected` what the request and the KOS say, `actual` the part.
WADO-RS-035 (against the request target), DICOM-003 (File Meta against the data set) and
DRIM-024 (SOP class against the KOS) show their identities the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.documents.identity import ObjectIdentity, PatientIdentity
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.drim import DRIM_M
from drimlab.validation.subjects import DicomFacts, NotApplicable, PartSubject, ResponseSubject

ERROR = Severity.ERROR


def expected_identity(subject: PartSubject) -> ObjectIdentity:
    """What the request and the KOS say this part should be (None where they say nothing)."""
    dicom = subject.part.dicom
    request = subject.response.request
    resource = request.resource if request is not None else None
    kos = subject.response.kos
    listed = kos.series_of(dicom.sop_instance_uid or "") if kos is not None else None
    uid = dicom.sop_instance_uid
    classes = {r.sop_instance_uid: r.sop_class_uid for r in listed.instances} if listed else {}
    sop_class = classes.get(uid or "")
    study = resource.study if resource is not None else (kos.study_instance_uid if kos else None)
    series = resource.series if resource is not None and resource.series else None
    return ObjectIdentity(
        patient=kos.patient if kos is not None else None,
        study=study,
        series=series or (listed.series_instance_uid if listed is not None else None),
        sop_class=sop_class,
        instance=resource.instance if resource is not None and resource.instance else None,
    )


def _parsed(subject: PartSubject) -> DicomFacts:
    media = subject.part.content_type
    if media is not None and media.essence != "application/dicom":
        raise NotApplicable
    dicom = subject.part.dicom
    if dicom.parse_error is not None or dicom.patient is None:
        raise NotApplicable
    return dicom


def _patient_problem(part: PatientIdentity, wanted: PatientIdentity) -> str | None:
    if part.conflicts_with(wanted):
        return "belongs to another patient"
    if not part.shares_an_id_with(wanted):
        return "carries no identifier of that patient (same value from the same issuer)"
    return None


@CATALOGUE.rule(
    "DICOM-010",
    "response-of-several-patients",
    severity=ERROR,
    summary="Every part of one response must belong to the same patient",
    what="The patient identifiers of every part (PatientID with its Issuer of Patient ID, "
    "OtherPatientIDsSequence, the INS) agree with those of the first part: no issuer (or "
    "the absence of one) gives two parts different identifiers.",
    why="A response is one exam of one patient (a study belongs to one patient, PS3.3 C.7.1.1); "
    "a part of another patient would be shown to the physician as this patient's image.",
    bad="part 0: PatientID 248012345678901 (ASIP-SANTE-INS-NIR)\n"
    "part 1: PatientID 190017512345678 (ASIP-SANTE-INS-NIR)",
    good="every part: PatientID 248012345678901 (ASIP-SANTE-INS-NIR)",
    references=("PS3.3 C.7.1.1", "PS3.3 C.7.2.1", "PS3.18 §10.4.3"),
    subject="body",
)
def response_of_several_patients(response: ResponseSubject) -> Iterator[Finding]:
    body = response.require_body()
    parsed = [
        p
        for p in body.parts
        if p.dicom.parse_error is None and p.dicom.patient is not None and p.dicom.patient.ids
    ]
    if len(parsed) < 2:
        raise NotApplicable
    first = parsed[0]
    reference = first.dicom.patient
    assert reference is not None
    for part in parsed[1:]:
        assert part.dicom.patient is not None
        if part.dicom.patient.conflicts_with(reference):
            yield CATALOGUE["DICOM-010"].finding(
                f"part {part.index} belongs to another patient than part {first.index}",
                Location(part=part.index, tag_path="(0010,0020)"),
                expected=f"part {first.index}: {first.dicom.identity}",
                actual=f"part {part.index}: {part.dicom.identity}",
            )


@CATALOGUE.rule(
    "DRIM-025",
    "patient-differs-from-kos",
    severity=ERROR,
    summary="Every returned instance must be of the KOS's patient",
    what="With a KOS given, each part's patient identifiers (PatientID with its issuer, "
    "OtherPatientIDsSequence, the INS) agree with the KOS's: no issuer gives them different "
    "identifiers, and the part carries at least one identifier of the KOS patient (in DRIM-M "
    "the INS, which the source adds to OtherPatientIDsSequence).",
    why="The KOS in the patient's DMP says whose exam this is; an image whose patient differs "
    "(or cannot be matched) would be filed in the wrong record: a patient-safety fault.",
    bad="KOS: PatientID 248012345678901 (ASIP-SANTE-INS-NIR)\n"
    "part: PatientID 190017512345678 (ASIP-SANTE-INS-NIR)",
    good="KOS: INS 248012345678901\n"
    "part: PatientID IPP-77 (CH-TEST); other IDs 248012345678901 (1.2.250.1.213.1.4.10)",
    references=(DRIM_M, "PS3.3 C.7.1.1", "PS3.3 C.17.6 (Key Object Document)"),
    subject="part",
)
def patient_differs_from_kos(subject: PartSubject) -> Iterator[Finding]:
    kos = subject.response.require_kos()
    dicom = _parsed(subject)
    assert dicom.patient is not None
    problem = _patient_problem(dicom.patient, kos.patient)
    if problem is not None:
        yield CATALOGUE["DRIM-025"].finding(
            f"the instance {problem} of the KOS ({kos.patient})",
            Location(part=subject.part.index, tag_path="(0010,0020)"),
            expected=f"KOS: {expected_identity(subject)}",
            actual=f"part: {dicom.identity}",
        )


@CATALOGUE.rule(
    "DRIM-026",
    "instance-placed-otherwise-than-in-kos",
    severity=ERROR,
    summary="A returned instance the KOS lists must be in the study and series the KOS gives",
    what="With a KOS given, each part whose SOP Instance UID the KOS references carries the "
    "KOS's Study Instance UID and the Series Instance UID of the Referenced Series that lists it.",
    why="The same SOP Instance UID in another study or series is another object, or one the "
    "source misfiled: the viewer would show it in the wrong place of the exam.",
    bad="KOS: instance 1.2.3.4.1 in series 1.2.3.4\npart: instance 1.2.3.4.1 in series 1.2.3.9",
    good="KOS: instance 1.2.3.4.1 in series 1.2.3.4\npart: instance 1.2.3.4.1 in series 1.2.3.4",
    references=(DRIM_M, "PS3.3 C.17.6.2.1"),
    subject="part",
)
def instance_placed_otherwise(subject: PartSubject) -> Iterator[Finding]:
    kos = subject.response.require_kos()
    dicom = _parsed(subject)
    listed = kos.series_of(dicom.sop_instance_uid or "")
    if listed is None:
        raise NotApplicable
    wrong = [
        f"{label} {got} (the KOS says {wanted})"
        for label, wanted, got in (
            ("study", kos.study_instance_uid, dicom.study_instance_uid),
            ("series", listed.series_instance_uid, dicom.series_instance_uid),
        )
        if got and got != wanted
    ]
    if wrong:
        yield CATALOGUE["DRIM-026"].finding(
            f"instance {dicom.sop_instance_uid} is in {', '.join(wrong)}",
            Location(part=subject.part.index),
            expected=f"KOS: {expected_identity(subject)}",
            actual=f"part: {dicom.identity}",
        )
