"""XDS: the DMP metadata of a DRIM-M KOS (ProvideAndRegisterDocumentSet-b, XDM METADATA.XML).

Rules run over a parsed `Submission`; the KOS DocumentEntry is the one with mimeType
`application/dicom`, typeCode IMG-KOS or the KOS formatCode.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.valuesets import value_sets
from drimlab.documents.xds import (
    ENTRY_SCHEMES,
    SUBMISSION_SCHEMES,
    RegistryObject,
    Submission,
)
from drimlab.domain import KOS_MIME_TYPE
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
ITI = "IHE ITI TF-3 §4.2.3 (XDS metadata attributes)"
ITI_PNR = "IHE ITI TF-2b §3.41 Provide and Register Document Set-b"
CISIS = "CI-SIS Volet Partage de documents de santé (DMP)"
DRIM_M = "DRIM-M (ANS, couloir imagerie): DMP metadata of the KOS"
INS_CX = re.compile(
    r"^([0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8})\^\^\^&1\.2\.250\.1\.213\.1\.4\.10&ISO\^NH$"
)
DTM = re.compile(r"^[0-9]{4}(?:[0-9]{2}){0,5}$")
DTM_ZONED = re.compile(r"^([0-9]{4}(?:[0-9]{2}){0,5})[+-][0-9]{4}$")
DTM_SLOTS = ("creationTime", "serviceStartTime", "serviceStopTime", "submissionTime")
ENTRY_SLOTS = ("creationTime", "languageCode", "sourcePatientId")
ENTRY_CODES = (
    "classCode",
    "confidentialityCode",
    "formatCode",
    "healthcareFacilityTypeCode",
    "practiceSettingCode",
    "typeCode",
)
ACCESSION = "urn:ihe:iti:xds:2013:accession"
STUDY = "urn:ihe:iti:xds:2016:studyInstanceUID"
ORDER = "urn:ihe:iti:xds:2013:order"
EXAMPLE = '<ExtrinsicObject id="DocumentKOS" mimeType="application/dicom" ...>'


def at(entry: RegistryObject, detail: str = "") -> Location:
    where = f"{entry.element}[@id='{entry.id}']"
    line = f" (line {entry.line})" if entry.line else ""
    return Location(path=f"{where}{detail}{line}")


def kos_entries(submission: Submission) -> list[RegistryObject]:
    entries = submission.kos_entries
    if not entries:
        raise NotApplicable
    return entries


@CATALOGUE.rule(
    "XDS-001",
    "xds-no-kos-entry",
    severity=ERROR,
    summary="The submission must carry a KOS DocumentEntry and its SubmissionSet",
    what="The SubmitObjectsRequest holds at least one DocumentEntry (ExtrinsicObject) that "
    "describes a KOS and exactly one SubmissionSet (RegistryPackage).",
    why="A DRIM-M source publishes each exam to the DMP as a KOS document; a submission "
    "without it registers nothing a consumer can find.",
    bad='<RegistryObjectList><RegistryPackage id="SubmissionSet01"/></RegistryObjectList>',
    good=EXAMPLE,
    references=(ITI_PNR, DRIM_M),
    subject="xds",
)
def xds_no_kos_entry(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-001"]
    if not submission.kos_entries:
        yield rule.finding(
            f"no KOS DocumentEntry among {len(submission.entries)} ExtrinsicObject(s)",
            Location(path="RegistryObjectList"),
        )
    sets = submission.submission_sets
    if len(sets) != 1:
        yield rule.finding(
            f"{len(sets)} SubmissionSets, expected exactly one",
            Location(path="RegistryObjectList"),
            expected="1",
            actual=str(len(sets)),
        )


@CATALOGUE.rule(
    "XDS-002",
    "xds-entry-attribute-missing",
    severity=ERROR,
    summary="The KOS DocumentEntry must have every required XDS attribute",
    what="Slots creationTime, languageCode, sourcePatientId; classifications classCode, "
    "confidentialityCode, formatCode, healthcareFacilityTypeCode, practiceSettingCode, "
    "typeCode; external identifiers patientId and uniqueId. A missing author is a warning "
    "(R2 in XDS, expected by the DMP).",
    why="The registry rejects a DocumentEntry missing a required attribute "
    "(XDSRegistryMetadataError) and the DMP cannot index the exam.",
    bad="<ExtrinsicObject ...> without a typeCode Classification",
    good='<Classification classificationScheme="urn:uuid:f0306f51-..." '
    'nodeRepresentation="IMG-KOS">',
    references=(ITI, CISIS),
    subject="xds",
)
def xds_entry_attribute_missing(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-002"]
    for entry in kos_entries(submission):
        for name in ENTRY_SLOTS:
            if not entry.first(name):
                yield rule.finding(f"slot {name} is missing or empty", at(entry))
        for name in ENTRY_CODES:
            if not entry.classified(ENTRY_SCHEMES[name]):
                yield rule.finding(f"classification {name} is missing", at(entry))
        for name in ("patientId", "uniqueId"):
            if not entry.identifier(ENTRY_SCHEMES[name]):
                yield rule.finding(f"external identifier {name} is missing", at(entry))
        if not entry.classified(ENTRY_SCHEMES["author"]):
            yield rule.finding("no author", at(entry), severity=WARNING)


@CATALOGUE.rule(
    "XDS-003",
    "xds-submission-set-attribute-missing",
    severity=ERROR,
    summary="The SubmissionSet must have every required XDS attribute",
    what="Slot submissionTime; contentTypeCode classification; external identifiers "
    "patientId, sourceId and uniqueId (the sourceId and uniqueId well-formed OIDs). A "
    "missing author is a warning.",
    why="The registry rejects a submission set missing them; sourceId identifies the "
    "DRIMBox that published the exam.",
    bad='<RegistryPackage id="SubmissionSet01"> without submissionTime',
    good='<Slot name="submissionTime"><ValueList><Value>20231103161724</Value>...',
    references=(ITI, CISIS),
    subject="xds",
)
def xds_submission_set_attribute_missing(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-003"]
    sets = submission.submission_sets
    if not sets:
        raise NotApplicable
    for package in sets:
        if not package.first("submissionTime"):
            yield rule.finding("slot submissionTime is missing or empty", at(package))
        if not package.classified(SUBMISSION_SCHEMES["contentTypeCode"]):
            yield rule.finding("classification contentTypeCode is missing", at(package))
        if not package.classified(SUBMISSION_SCHEMES["author"]):
            yield rule.finding("no author", at(package), severity=WARNING)
        for name in ("patientId", "sourceId", "uniqueId"):
            value = package.identifier(SUBMISSION_SCHEMES[name])
            if not value:
                yield rule.finding(f"external identifier {name} is missing", at(package))
            elif name != "patientId" and uid_problem(value):
                yield rule.finding(
                    f"{name} is not an OID: {uid_problem(value)}", at(package), actual=value
                )


def _code_rule(code: str, attribute: str, submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE[code]
    wanted = value_sets()[attribute]
    for entry in kos_entries(submission):
        found = entry.classified(ENTRY_SCHEMES[attribute])
        if not found:
            continue  # XDS-002 reports the missing classification
        for item in found:
            actual = f"{item.code} ({item.coding_scheme or 'no codingScheme'})"
            if (item.code, item.coding_scheme) != (wanted.kos_code, wanted.coding_scheme):
                yield rule.finding(
                    f"{attribute} of the KOS is not {wanted.kos_code}",
                    at(entry, f"/Classification[@id='{item.id}']"),
                    expected=f"{wanted.kos_code} ({wanted.coding_scheme})",
                    actual=actual,
                )


@CATALOGUE.rule(
    "XDS-004",
    "xds-mime-type-not-dicom",
    severity=ERROR,
    summary="The KOS DocumentEntry mimeType must be application/dicom",
    what="The mimeType attribute of the KOS ExtrinsicObject is `application/dicom`.",
    why="The DMP and the consumers choose how to open a document by its mimeType; a KOS "
    "declared as anything else is never handed to a DICOM reader.",
    bad='<ExtrinsicObject id="DocumentKOS" mimeType="application/octet-stream">',
    good='<ExtrinsicObject id="DocumentKOS" mimeType="application/dicom">',
    references=(ITI, DRIM_M),
    subject="xds",
)
def xds_mime_type_not_dicom(submission: Submission) -> Iterator[Finding]:
    for entry in kos_entries(submission):
        if entry.mime_type != KOS_MIME_TYPE:
            yield CATALOGUE["XDS-004"].finding(
                "mimeType of the KOS is not application/dicom",
                at(entry),
                expected=KOS_MIME_TYPE,
                actual=entry.mime_type or "(absent)",
            )


@CATALOGUE.rule(
    "XDS-005",
    "xds-class-code-wrong",
    severity=ERROR,
    summary="The KOS classCode must be 31 (Imagerie médicale) of 1.2.250.1.213.1.1.4.1",
    what="The classCode classification of the KOS entry has nodeRepresentation `31` and "
    "codingScheme `1.2.250.1.213.1.1.4.1` (CI-SIS JDV_J06).",
    why="The DMP files imaging documents under class 31; another class hides the exam "
    "from the imaging view of the record.",
    bad='nodeRepresentation="11" codingScheme="1.2.250.1.213.1.1.4.1"',
    good='nodeRepresentation="31" codingScheme="1.2.250.1.213.1.1.4.1"',
    references=(CISIS, DRIM_M),
    subject="xds",
)
def xds_class_code_wrong(submission: Submission) -> Iterator[Finding]:
    yield from _code_rule("XDS-005", "classCode", submission)


@CATALOGUE.rule(
    "XDS-006",
    "xds-type-code-wrong",
    severity=ERROR,
    summary="The KOS typeCode must be IMG-KOS of 1.2.250.1.213.1.1.4.12",
    what="The typeCode classification of the KOS entry has nodeRepresentation `IMG-KOS` and "
    "codingScheme `1.2.250.1.213.1.1.4.12` (CI-SIS JDV_J07).",
    why="DRIM-M consumers search the DMP for IMG-KOS documents to find shareable exams.",
    bad='nodeRepresentation="18748-4" codingScheme="2.16.840.1.113883.6.1"',
    good='nodeRepresentation="IMG-KOS" codingScheme="1.2.250.1.213.1.1.4.12"',
    references=(CISIS, DRIM_M),
    subject="xds",
)
def xds_type_code_wrong(submission: Submission) -> Iterator[Finding]:
    yield from _code_rule("XDS-006", "typeCode", submission)


@CATALOGUE.rule(
    "XDS-007",
    "xds-format-code-wrong",
    severity=ERROR,
    summary="The KOS formatCode must be the KOS SOP Class UID of scheme 1.2.840.10008.2.6.1",
    what="The formatCode classification of the KOS entry has nodeRepresentation "
    "`1.2.840.10008.5.1.4.1.1.88.59` and codingScheme `1.2.840.10008.2.6.1`.",
    why="XDS-I.b identifies a manifest by that format code; a consumer ignores a document "
    "whose format it does not recognise.",
    bad='nodeRepresentation="urn:ihe:rad:TEXT"',
    good='nodeRepresentation="1.2.840.10008.5.1.4.1.1.88.59" codingScheme="1.2.840.10008.2.6.1"',
    references=("IHE RAD TF-3 §4.68.4.1.2.3", DRIM_M),
    subject="xds",
)
def xds_format_code_wrong(submission: Submission) -> Iterator[Finding]:
    yield from _code_rule("XDS-007", "formatCode", submission)


@CATALOGUE.rule(
    "XDS-008",
    "xds-patient-id-not-ins",
    severity=ERROR,
    summary="patientId must be the INS: `INS^^^&1.2.250.1.213.1.4.10&ISO^NH`",
    what="The patientId of the KOS DocumentEntry and of the SubmissionSet is an INS-NIR "
    "(15 characters) assigned by 1.2.250.1.213.1.4.10 with identifier type NH.",
    why="The DMP is indexed by INS; another identifier, authority or type code puts the "
    "exam in no record.",
    bad='value="12345^^^&1.2.250.1.71.4.2.2&ISO^PI"',
    good='value="162018885045327^^^&amp;1.2.250.1.213.1.4.10&amp;ISO^NH"',
    references=(CISIS, DRIM_M),
    subject="xds",
)
def xds_patient_id_not_ins(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-008"]
    owners = [(e, ENTRY_SCHEMES["patientId"]) for e in submission.kos_entries]
    owners += [(p, SUBMISSION_SCHEMES["patientId"]) for p in submission.submission_sets]
    if not owners:
        raise NotApplicable
    for owner, scheme in owners:
        value = owner.identifier(scheme)
        if value and not INS_CX.match(value):
            yield rule.finding(
                "patientId is not in the INS form",
                at(owner, "/ExternalIdentifier(patientId)"),
                expected="<INS>^^^&1.2.250.1.213.1.4.10&ISO^NH",
                actual=value,
            )


@CATALOGUE.rule(
    "XDS-009",
    "xds-patient-id-mismatch",
    severity=ERROR,
    summary="The DocumentEntry patientId must be the SubmissionSet's",
    what="Every DocumentEntry of the submission has the patientId of its SubmissionSet.",
    why="The registry refuses such a submission (XDSPatientIdDoesNotMatch, ITI TF-3 "
    "Table 4.2.4.1-2): one submission is about one patient.",
    bad="SubmissionSet 162018885045327^^^&...^NH, DocumentEntry 274075176079430^^^&...^NH",
    good="the same INS on the SubmissionSet and on each DocumentEntry",
    references=(ITI, "IHE ITI TF-3 Table 4.2.4.1-2 XDSPatientIdDoesNotMatch"),
    subject="xds",
)
def xds_patient_id_mismatch(submission: Submission) -> Iterator[Finding]:
    sets = submission.submission_sets
    if len(sets) != 1:
        raise NotApplicable
    expected = sets[0].identifier(SUBMISSION_SCHEMES["patientId"])
    if not expected:
        raise NotApplicable
    for entry in submission.entries:
        value = entry.identifier(ENTRY_SCHEMES["patientId"])
        if value and value != expected:
            yield CATALOGUE["XDS-009"].finding(
                f"DocumentEntry patientId differs from SubmissionSet {sets[0].id}",
                at(entry, "/ExternalIdentifier(patientId)"),
                expected=expected,
                actual=value,
            )
