"""XDS: the DMP metadata of a DRIM-M KOS (ProvideAndRegisterDocumentSet-b, XDM METADATA.XML).

Rules run over a parsed `Submission`; the KOS DocumentEntry is the one with mimeType
`application/dicom`, typeCode IMG-KOS or the KOS formatCode.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.valuesets import value_sets
from drimlab.documents.xds import (
    ASSOCIATION_TYPES,
    DOCUMENT_ENTRY_ON_DEMAND,
    DOCUMENT_ENTRY_STABLE,
    ENTRY_SCHEMES,
    HAS_MEMBER,
    REFERENCE_ID_LIST,
    SUBMISSION_SCHEMES,
    RegistryObject,
    Submission,
    parse_cx,
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


def _at(entry: RegistryObject, detail: str = "") -> Location:
    where = f"{entry.element}[@id='{entry.id}']"
    line = f" (line {entry.line})" if entry.line else ""
    return Location(path=f"{where}{detail}{line}")


def _kos_entries(submission: Submission) -> list[RegistryObject]:
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
    for entry in _kos_entries(submission):
        for name in ENTRY_SLOTS:
            if not entry.first(name):
                yield rule.finding(f"slot {name} is missing or empty", _at(entry))
        for name in ENTRY_CODES:
            if not entry.classified(ENTRY_SCHEMES[name]):
                yield rule.finding(f"classification {name} is missing", _at(entry))
        for name in ("patientId", "uniqueId"):
            if not entry.identifier(ENTRY_SCHEMES[name]):
                yield rule.finding(f"external identifier {name} is missing", _at(entry))
        if not entry.classified(ENTRY_SCHEMES["author"]):
            yield rule.finding("no author", _at(entry), severity=WARNING)


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
            yield rule.finding("slot submissionTime is missing or empty", _at(package))
        if not package.classified(SUBMISSION_SCHEMES["contentTypeCode"]):
            yield rule.finding("classification contentTypeCode is missing", _at(package))
        if not package.classified(SUBMISSION_SCHEMES["author"]):
            yield rule.finding("no author", _at(package), severity=WARNING)
        for name in ("patientId", "sourceId", "uniqueId"):
            value = package.identifier(SUBMISSION_SCHEMES[name])
            if not value:
                yield rule.finding(f"external identifier {name} is missing", _at(package))
            elif name != "patientId" and uid_problem(value):
                yield rule.finding(
                    f"{name} is not an OID: {uid_problem(value)}", _at(package), actual=value
                )


def _code_rule(code: str, attribute: str, submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE[code]
    wanted = value_sets()[attribute]
    for entry in _kos_entries(submission):
        found = entry.classified(ENTRY_SCHEMES[attribute])
        if not found:
            continue  # XDS-002 reports the missing classification
        for item in found:
            actual = f"{item.code} ({item.coding_scheme or 'no codingScheme'})"
            if (item.code, item.coding_scheme) != (wanted.kos_code, wanted.coding_scheme):
                yield rule.finding(
                    f"{attribute} of the KOS is not {wanted.kos_code}",
                    _at(entry, f"/Classification[@id='{item.id}']"),
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
    for entry in _kos_entries(submission):
        if entry.mime_type != KOS_MIME_TYPE:
            yield CATALOGUE["XDS-004"].finding(
                "mimeType of the KOS is not application/dicom",
                _at(entry),
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
                _at(owner, "/ExternalIdentifier(patientId)"),
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
                _at(entry, "/ExternalIdentifier(patientId)"),
                expected=expected,
                actual=value,
            )


@CATALOGUE.rule(
    "XDS-010",
    "xds-reference-id-list-incomplete",
    severity=ERROR,
    summary="referenceIdList must carry the accession number and the study UID (and order)",
    what=f"The slot `{REFERENCE_ID_LIST}` of the KOS entry holds well-formed CXi values "
    f"`id^^^&oid&ISO^type` of type `{ACCESSION}` and `{STUDY}`; one of type `{ORDER}` is "
    "expected too (a warning when absent).",
    why="The DMP and the consumers find the exam's report and images through these keys; "
    "the cross-validation compares them with the KOS.",
    bad='<Slot name="urn:ihe:iti:xds:2013:referenceIdList"> with only the order',
    good=f"<Value>725229536725008^^^&amp;1.2.840.113619.6.198&amp;ISO^{ACCESSION}</Value>",
    references=("IHE ITI TF-3 §4.2.3.2.28 referenceIdList", "IHE RAD TF-3 §4.68.4.1.2.3"),
    subject="xds",
)
def xds_reference_id_list_incomplete(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-010"]
    for entry in _kos_entries(submission):
        values = entry.slot(REFERENCE_ID_LIST) or ()
        kinds: set[str] = set()
        for value in values:
            parsed = parse_cx(value)
            if parsed is None:
                yield rule.finding("malformed CXi value", _at(entry), actual=value)
                continue
            kinds.add(parsed[2])
        for kind in (ACCESSION, STUDY):
            if kind not in kinds:
                yield rule.finding(f"no {kind} reference", _at(entry), expected=kind)
        if ORDER not in kinds:
            yield rule.finding(f"no {ORDER} reference", _at(entry), severity=WARNING)


@CATALOGUE.rule(
    "XDS-011",
    "xds-association-inconsistent",
    severity=ERROR,
    summary="Associations must link existing objects: the SubmissionSet HasMember each entry",
    what="Each Association has a known type and names objects of the submission; each "
    "DocumentEntry is the target of a HasMember association from the SubmissionSet.",
    why="The registry refuses dangling associations, and an entry that is not a member of "
    "the submission set is never registered.",
    bad='<Association associationType="...HasMember" sourceObject="SubmissionSet01" '
    'targetObject="Document99"/>',
    good='<Association associationType="...HasMember" sourceObject="SubmissionSet01" '
    'targetObject="DocumentKOS"/>',
    references=(ITI, "IHE ITI TF-3 §4.2.2 Association types"),
    subject="xds",
)
def xds_association_inconsistent(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-011"]
    known = submission.object_ids()
    sets = {p.id for p in submission.submission_sets}
    members: set[str] = set()
    for association in submission.associations:
        where = Location(path=f"Association[@id='{association.id}']")
        if association.association_type not in ASSOCIATION_TYPES:
            yield rule.finding(
                "unknown association type", where, actual=association.association_type
            )
        for end in (association.source_object, association.target_object):
            if end not in known:
                yield rule.finding(f"names {end!r}, no object of the submission", where)
        if association.association_type == HAS_MEMBER and association.source_object in sets:
            members.add(association.target_object)
    for entry in submission.entries:
        if entry.id not in members:
            yield rule.finding(
                "the DocumentEntry is not a member of the SubmissionSet (no HasMember)",
                _at(entry),
            )


@CATALOGUE.rule(
    "XDS-012",
    "xds-document-missing",
    severity=ERROR,
    summary="Each DocumentEntry of a Provide and Register needs its Document, and vice versa",
    what="For each ExtrinsicObject there is one `<xdsb:Document id=...>` with its id, and "
    "each Document describes an ExtrinsicObject.",
    why="The repository refuses a submission whose documents and metadata do not match "
    "(XDSMissingDocument / XDSMissingDocumentMetadata).",
    bad='<ExtrinsicObject id="DocumentKOS"> and no <Document id="DocumentKOS">',
    good='<ExtrinsicObject id="DocumentKOS"> ... <Document id="DocumentKOS">',
    references=(ITI_PNR, "IHE ITI TF-3 Table 4.2.4.1-2"),
    subject="xds",
)
def xds_document_missing(submission: Submission) -> Iterator[Finding]:
    if submission.documents is None:
        raise NotApplicable
    rule = CATALOGUE["XDS-012"]
    documents = Counter(submission.documents)
    for entry in submission.entries:
        if documents[entry.id] != 1:
            yield rule.finding(
                f"{documents[entry.id]} Document element(s) for this entry",
                _at(entry),
                expected="1",
                actual=str(documents[entry.id]),
            )
    described = {e.id for e in submission.entries}
    for ident in documents:
        if ident not in described:
            yield rule.finding(
                "a Document has no DocumentEntry", Location(path=f"Document[@id='{ident}']")
            )


def _dtm_problem(value: str) -> tuple[Severity, str] | None:
    zoned = DTM_ZONED.match(value)
    if zoned:
        value = zoned[1]
    elif not DTM.match(value):
        return ERROR, "not YYYY[MM[DD[hh[mm[ss]]]]]"
    formats = ("%Y", "%Y%m", "%Y%m%d", "%Y%m%d%H", "%Y%m%d%H%M", "%Y%m%d%H%M%S")
    try:
        datetime.strptime(value, formats[(len(value) - 4) // 2])
    except ValueError:
        return ERROR, "not a real date and time"
    if zoned:
        return WARNING, "has a UTC offset; XDS times are UTC without offset"
    return None


@CATALOGUE.rule(
    "XDS-013",
    "xds-datetime-malformed",
    severity=ERROR,
    summary="XDS dates and times must be DTM in UTC: YYYY[MM[DD[hh[mm[ss]]]]]",
    what="creationTime, serviceStartTime, serviceStopTime and submissionTime are one value "
    "each, a real date in the DTM form; a UTC offset suffix (`+0100`) is a warning; "
    "serviceStartTime must not be after serviceStopTime.",
    why="The registry stores and queries these as UTC instants; a malformed value is "
    "refused and an offset is read differently by different registries.",
    bad="<Value>2023-11-03T16:17:24</Value>",
    good="<Value>20231103161724</Value>",
    references=("IHE ITI TF-3 Table 4.2.3.1.7-2 (DTM)",),
    subject="xds",
)
def xds_datetime_malformed(submission: Submission) -> Iterator[Finding]:
    rule = CATALOGUE["XDS-013"]
    for owner in (*submission.kos_entries, *submission.submission_sets):
        for name in DTM_SLOTS:
            values = owner.slot(name)
            if values is None:
                continue
            if len(values) != 1:
                yield rule.finding(f"slot {name} has {len(values)} values", _at(owner))
                continue
            problem = _dtm_problem(values[0].strip())
            if problem:
                yield rule.finding(
                    f"{name} {problem[1]}", _at(owner), actual=values[0], severity=problem[0]
                )
        start, stop = owner.first("serviceStartTime")[:14], owner.first("serviceStopTime")[:14]
        if start.isdigit() and stop.isdigit() and len(start) == len(stop) and start > stop:
            yield rule.finding("serviceStartTime is after serviceStopTime", _at(owner))


@CATALOGUE.rule(
    "XDS-014",
    "xds-duplicate-id",
    severity=ERROR,
    summary="Every id of the submission must be unique",
    what="No two elements of the RegistryObjectList share an `id` attribute.",
    why="ebRIM ids identify objects within a submission; the registry refuses duplicates "
    "(associations and classifications would point at two objects).",
    bad='<Classification id="cla13" .../> twice',
    good='<Classification id="cla13"/> <Classification id="cla23"/>',
    references=("OASIS ebRIM 3.0 §2.4 (id)", ITI),
    subject="xds",
)
def xds_duplicate_id(submission: Submission) -> Iterator[Finding]:
    for ident, count in Counter(submission.ids).items():
        if count > 1:
            yield CATALOGUE["XDS-014"].finding(
                f"id {ident!r} is used {count} times", Location(path=f"@id='{ident}'")
            )


@CATALOGUE.rule(
    "XDS-015",
    "xds-entry-unique-id-invalid",
    severity=ERROR,
    summary="The KOS entry uniqueId must be a DICOM UID (the KOS SOP Instance UID)",
    what="The uniqueId of the KOS DocumentEntry is a well-formed OID of at most 64 "
    "characters (XDS-I.b: the SOP Instance UID of the KOS; the cross-validation checks "
    "that they are equal).",
    why="Consumers retrieve the KOS by its uniqueId and name it in the KOS-SOPInstanceUID "
    "header of every WADO-RS request.",
    bad='value="KOS-2023-11-03"',
    good='value="1.3.2.751468943.3.1234.56838.231114144457.1.1.1"',
    references=("IHE RAD TF-3 §4.68.4.1.2.3", DRIM_M),
    subject="xds",
)
def xds_entry_unique_id_invalid(submission: Submission) -> Iterator[Finding]:
    for entry in _kos_entries(submission):
        value = entry.identifier(ENTRY_SCHEMES["uniqueId"])
        if value and uid_problem(value):
            yield CATALOGUE["XDS-015"].finding(
                f"uniqueId is not a UID: {uid_problem(value)}",
                _at(entry, "/ExternalIdentifier(uniqueId)"),
                actual=value,
            )


@CATALOGUE.rule(
    "XDS-016",
    "xds-object-type-unknown",
    severity=ERROR,
    summary="A DocumentEntry objectType must be the stable or on-demand entry UUID",
    what=f"The objectType of each ExtrinsicObject is `{DOCUMENT_ENTRY_STABLE}` (stable) or "
    f"`{DOCUMENT_ENTRY_ON_DEMAND}` (on-demand).",
    why="The registry only accepts these two DocumentEntry types.",
    bad='objectType="urn:uuid:00000000-0000-0000-0000-000000000000"',
    good=f'objectType="{DOCUMENT_ENTRY_STABLE}"',
    references=("IHE ITI TF-3 §4.2.5.2",),
    subject="xds",
)
def xds_object_type_unknown(submission: Submission) -> Iterator[Finding]:
    for entry in submission.entries:
        if entry.object_type not in (DOCUMENT_ENTRY_STABLE, DOCUMENT_ENTRY_ON_DEMAND):
            yield CATALOGUE["XDS-016"].finding(
                "unknown DocumentEntry objectType",
                _at(entry),
                expected=DOCUMENT_ENTRY_STABLE,
                actual=entry.object_type or "(absent)",
            )
