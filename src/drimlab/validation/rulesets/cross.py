"""XVAL: the KOS, its XDS metadata, the report (CDA) and the images must tell the same exam.

Each rule compares one fact of the KOS with the same fact elsewhere; each disagreement is a
Finding naming both places. A rule whose other documents were not given is not applicable.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.documents.cross import CrossSubject
from drimlab.domain import INS_ROOTS
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable

ERROR, WARNING = Severity.ERROR, Severity.WARNING
DRIM_M = "DRIM-M (ANS): cross-validation of the KOS, the CDA, the XDS metadata and the images"
XDSI = "IHE RAD TF-3 §4.68.4.1.2.3 (XDS-I.b manifest metadata)"


def _others(subject: CrossSubject) -> None:
    if subject.xds is None and subject.cda is None and not subject.images:
        raise NotApplicable  # (the HL7 v2 message has rules of its own: rulesets/cross_hl7.py)


def _disagree(
    code: str, fact: str, kos: tuple[str, str], other: tuple[str, str], place: str
) -> Finding:
    """A finding naming both places: (where in the KOS, value) vs (where elsewhere, value)."""
    return CATALOGUE[code].finding(
        f"{fact}: KOS {kos[0]} = {kos[1] or '(empty)'} but {other[0]} = {other[1] or '(empty)'}",
        Location(path=place),
        expected=kos[1],
        actual=other[1],
    )


@CATALOGUE.rule(
    "XVAL-001",
    "xval-study-uid-mismatch",
    severity=ERROR,
    summary="The study UID must be the same in the KOS, the XDS metadata, the CDA and the images",
    what="The KOS Study Instance UID (0020,000D) equals the XDS referenceIdList "
    "`urn:ihe:iti:xds:2016:studyInstanceUID`, the CDA `documentationOf/serviceEvent/id/@root` "
    "(when the CDA has one) and the Study Instance UID of every image given.",
    why="The consumer opens the study the DMP metadata names and retrieves the one the KOS "
    "names: if they differ the physician sees images of another exam.",
    bad="KOS 1.2.3.116, XDS studyInstanceUID 1.2.3.18",
    good="KOS and XDS both 1.2.3.116",
    references=(DRIM_M, XDSI),
    subject="cross",
)
def xval_study_uid_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    _others(subject)
    kos = ("(0020,000D)", subject.kos.study_instance_uid)
    xds = subject.xds
    if xds is not None and xds.study_instance_uid != kos[1]:
        yield _disagree(
            "XVAL-001",
            "study UID",
            kos,
            ("XDS referenceIdList studyInstanceUID", xds.study_instance_uid),
            f"{subject.kos.label} vs {xds.label} (ExtrinsicObject {xds.entry_id})",
        )
    cda = subject.cda
    if cda is not None and cda.study_ids and kos[1] not in {i.root for i in cda.study_ids}:
        yield _disagree(
            "XVAL-001",
            "study UID",
            kos,
            ("CDA documentationOf/serviceEvent/id/@root", cda.study_ids[0].root),
            f"{subject.kos.label} vs {cda.label}",
        )
    for image in subject.images:
        if image.study_instance_uid != kos[1]:
            yield _disagree(
                "XVAL-001",
                "study UID",
                kos,
                ("image (0020,000D)", image.study_instance_uid),
                f"{subject.kos.label} vs {image.label}",
            )


@CATALOGUE.rule(
    "XVAL-002",
    "xval-accession-mismatch",
    severity=ERROR,
    summary="The accession number and its issuer must agree across KOS, XDS, CDA and images",
    what="The accession number of the KOS request (0040,A370)/(0008,0050) and its issuer "
    "(0008,0051) equal the XDS `urn:ihe:iti:xds:2013:accession` reference (number and "
    "assigning authority), the CDA `inFulfillmentOf/order/id` (extension, root) and the "
    "Accession Number of every image.",
    why="The accession number links the report, the manifest and the images at the "
    "producer; a mismatch attaches the report to the wrong exam.",
    bad="KOS 7252295367250016, XDS accession 725229536725008",
    good="KOS and XDS both 7252295367250016 issued by 1.2.840.113619.6.196",
    references=(DRIM_M, XDSI),
    subject="cross",
)
def xval_accession_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    _others(subject)
    facts = subject.kos
    kos = ("request (0008,0050)", facts.accession_number)
    issuer = ("request (0008,0051)", facts.accession_issuer.authority)
    xds = subject.xds
    if xds is not None:
        place = f"{facts.label} vs {xds.label} (ExtrinsicObject {xds.entry_id})"
        number, authority = xds.accession or ("", "")
        if number != kos[1]:
            yield _disagree("XVAL-002", "accession number", kos, ("XDS accession", number), place)
        elif authority != issuer[1]:
            yield _disagree(
                "XVAL-002",
                "accession issuer",
                issuer,
                ("XDS accession assigning authority", authority),
                place,
            )
    cda = subject.cda
    if cda is not None and cda.order_ids:
        pairs = {(i.extension, i.root) for i in cda.order_ids}
        if (kos[1], issuer[1]) not in pairs:
            first = cda.order_ids[0]
            yield _disagree(
                "XVAL-002",
                "accession number and issuer",
                ("request (0008,0050)/(0008,0051)", f"{kos[1]} / {issuer[1]}"),
                ("CDA inFulfillmentOf/order/id", f"{first.extension} / {first.root}"),
                f"{facts.label} vs {cda.label}",
            )
    for image in subject.images:
        if image.accession_number and image.accession_number != kos[1]:
            yield _disagree(
                "XVAL-002",
                "accession number",
                kos,
                ("image (0008,0050)", image.accession_number),
                f"{facts.label} vs {image.label}",
            )


@CATALOGUE.rule(
    "XVAL-003",
    "xval-patient-mismatch",
    severity=ERROR,
    summary="The patient INS must be the same in the KOS, the XDS metadata, the CDA and images",
    what="The KOS Patient ID (0010,0020) equals the INS of the XDS DocumentEntry patientId, "
    "an INS id of the CDA `recordTarget/patientRole/id` (roots 1.2.250.1.213.1.4.8/9/10) "
    "and the Patient ID of every image.",
    why="A manifest filed under another patient's INS shares one patient's images in "
    "another patient's record: the most serious mix-up DRIM-M can make.",
    bad="KOS 162018885045327, XDS patientId 274075176079430^^^&...^NH",
    good="KOS 162018885045327, XDS patientId 162018885045327^^^&...^NH",
    references=(DRIM_M,),
    subject="cross",
)
def xval_patient_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    _others(subject)
    facts = subject.kos
    kos = ("(0010,0020)", facts.patient_id)
    xds = subject.xds
    if xds is not None and xds.patient_id != kos[1]:
        yield _disagree(
            "XVAL-003",
            "patient INS",
            kos,
            ("XDS DocumentEntry patientId", xds.patient_id),
            f"{facts.label} vs {xds.label} (ExtrinsicObject {xds.entry_id})",
        )
    cda = subject.cda
    if cda is not None:
        ins = [i.extension for i in cda.patient_ids if i.root in INS_ROOTS]
        if kos[1] not in ins:
            yield _disagree(
                "XVAL-003",
                "patient INS",
                kos,
                ("CDA recordTarget/patientRole/id (INS)", ", ".join(ins)),
                f"{facts.label} vs {cda.label}",
            )
    for image in subject.images:
        if image.patient_id != kos[1]:
            yield _disagree(
                "XVAL-003",
                "patient ID",
                kos,
                ("image (0010,0020)", image.patient_id),
                f"{facts.label} vs {image.label}",
            )


@CATALOGUE.rule(
    "XVAL-004",
    "xval-order-mismatch",
    severity=ERROR,
    summary="The order number of the KOS request must be the XDS order reference",
    what="When both have one, the KOS Placer Order Number (0040,2016) of the request equals "
    "the XDS referenceIdList `urn:ihe:iti:xds:2013:order` number.",
    why="The order links the exam to the prescription; disagreeing orders make the "
    "producer's and the DMP's views of the exam diverge.",
    bad="KOS placer order 12989855966, XDS order 12989855968",
    good="KOS and XDS both 12989855966",
    references=(DRIM_M, XDSI),
    subject="cross",
)
def xval_order_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    xds = subject.xds
    if xds is None or not xds.order_number or not subject.kos.placer_order_number:
        raise NotApplicable
    if xds.order_number != subject.kos.placer_order_number:
        yield _disagree(
            "XVAL-004",
            "order number",
            ("request (0040,2016)", subject.kos.placer_order_number),
            ("XDS order", xds.order_number),
            f"{subject.kos.label} vs {xds.label} (ExtrinsicObject {xds.entry_id})",
        )


@CATALOGUE.rule(
    "XVAL-005",
    "xval-date-mismatch",
    severity=WARNING,
    summary="The exam date should be the same in the KOS, the XDS metadata, the CDA and images",
    what="The KOS Study Date (0008,0020) is the date of the XDS serviceStartTime, of the CDA "
    "`documentationOf/serviceEvent/effectiveTime/low` and the Study Date of each image.",
    why="Physicians pick the exam by its date in the DMP; a different date shows the "
    "manifest under the wrong exam. A warning: a UTC conversion can move the day.",
    bad="KOS StudyDate 20221215, XDS serviceStartTime 20210104092200",
    good="KOS StudyDate 20221215, XDS serviceStartTime 20221215194622",
    references=(DRIM_M,),
    subject="cross",
)
def xval_date_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    _others(subject)
    facts = subject.kos
    if not facts.study_date:
        raise NotApplicable
    kos = ("(0008,0020)", facts.study_date)
    xds = subject.xds
    if xds is not None and xds.service_start and xds.service_start[:8] != facts.study_date:
        yield _disagree(
            "XVAL-005",
            "exam date",
            kos,
            ("XDS serviceStartTime", xds.service_start),
            f"{facts.label} vs {xds.label} (ExtrinsicObject {xds.entry_id})",
        )
    cda = subject.cda
    if cda is not None and cda.service_start and cda.service_start[:8] != facts.study_date:
        yield _disagree(
            "XVAL-005",
            "exam date",
            kos,
            ("CDA serviceEvent/effectiveTime/low", cda.service_start),
            f"{facts.label} vs {cda.label}",
        )
    for image in subject.images:
        if image.study_date and image.study_date != facts.study_date:
            yield _disagree(
                "XVAL-005",
                "exam date",
                kos,
                ("image (0008,0020)", image.study_date),
                f"{facts.label} vs {image.label}",
            )


@CATALOGUE.rule(
    "XVAL-006",
    "xval-kos-unique-id-mismatch",
    severity=ERROR,
    summary="The XDS uniqueId of the KOS entry must be the KOS SOP Instance UID",
    what="The DocumentEntry uniqueId equals the KOS SOP Instance UID (0008,0018).",
    why="XDS-I.b: consumers name the KOS by that UID in the KOS-SOPInstanceUID header; the "
    "source refuses a request whose KOS it does not know (404).",
    bad="KOS 1.3.2.751468943...1.1.1, XDS uniqueId 1.2.250.1.59.844...955.1.1",
    good="KOS and XDS uniqueId both 1.3.2.751468943...1.1.1",
    references=(XDSI, DRIM_M),
    subject="cross",
)
def xval_kos_unique_id_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    xds = subject.xds
    if xds is None:
        raise NotApplicable
    if xds.unique_id != subject.kos.sop_instance_uid:
        yield _disagree(
            "XVAL-006",
            "KOS identity",
            ("(0008,0018)", subject.kos.sop_instance_uid),
            ("XDS DocumentEntry uniqueId", xds.unique_id),
            f"{subject.kos.label} vs {xds.label} (ExtrinsicObject {xds.entry_id})",
        )


@CATALOGUE.rule(
    "XVAL-007",
    "xval-reference-unresolved",
    severity=ERROR,
    summary="Every KOS reference must resolve to a given image of the same series and class",
    what="With images given, each instance of the KOS evidence is one of the images, with "
    "the same Study and Series Instance UID and SOP Class UID.",
    why="A reference to an image the source does not hold, or under another series, makes "
    "the consumer's WADO-RS retrieval fail or return other images.",
    bad="KOS references 1.2.3.4.5 in series 1.2.3.4; no such image",
    good="every KOS reference is an image file of that series",
    references=(DRIM_M, XDSI),
    subject="cross",
)
def xval_reference_unresolved(subject: CrossSubject) -> Iterator[Finding]:
    if not subject.images:
        raise NotApplicable
    rule = CATALOGUE["XVAL-007"]
    by_uid = {image.sop_instance_uid: image for image in subject.images}
    for series in subject.kos.series:
        for ref in series.instances:
            image = by_uid.get(ref.sop_instance_uid)
            where = f"{subject.kos.label} (series {series.series_instance_uid})"
            if image is None:
                yield rule.finding(
                    f"KOS reference {ref.sop_instance_uid} resolves to no given image",
                    Location(path=where),
                    actual=ref.sop_instance_uid,
                )
                continue
            for fact, kos_value, image_value in (
                ("series", series.series_instance_uid, image.series_instance_uid),
                ("study", series.study_instance_uid, image.study_instance_uid),
                ("SOP class", ref.sop_class_uid, image.sop_class_uid),
            ):
                if kos_value != image_value:
                    yield _disagree(
                        "XVAL-007",
                        f"{fact} of {ref.sop_instance_uid}",
                        ("evidence", kos_value),
                        ("image", image_value),
                        f"{where} vs {image.label}",
                    )


@CATALOGUE.rule(
    "XVAL-008",
    "xval-image-not-referenced",
    severity=WARNING,
    summary="An image of the exam given is not referenced by the KOS",
    what="Each image given (of the KOS's study) is referenced by the KOS evidence.",
    why="An XDS-I.b manifest references every instance of the exam the source shares; an "
    "image left out is never shown to the consumer.",
    bad="3 images given, the KOS references 2",
    good="3 images given, the KOS references all 3",
    references=(XDSI,),
    subject="cross",
)
def xval_image_not_referenced(subject: CrossSubject) -> Iterator[Finding]:
    if not subject.images:
        raise NotApplicable
    referenced = {ref.sop_instance_uid for s in subject.kos.series for ref in s.instances}
    for image in subject.images:
        if image.sop_instance_uid not in referenced:
            yield CATALOGUE["XVAL-008"].finding(
                f"image {image.sop_instance_uid} is not referenced by the KOS",
                Location(path=f"{image.label} vs {subject.kos.label}"),
                actual=image.sop_instance_uid,
            )
