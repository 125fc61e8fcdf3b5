"""KOS: conformance of the DRIM-M KOS manifest a source publishes (XDS-I.b manifest).

The IOD itself is checked by dciodvfy (its errors and warnings become KOS-001 / KOS-002);
the other rules check what DRIM-M adds: the INS patient block, the request, the evidence with
one WADO-RS Retrieve URL per series, and content items that match the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydicom import Dataset

from drimlab.documents.kos import Kos
from drimlab.domain import (
    INS_ISSUER,
    INS_ISSUER_OID,
    KOS_MODALITY,
    KOS_SOP_CLASS_UID,
    MANIFEST_TITLE,
)
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import KosSubject, NotApplicable

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
DRIM_M = "DRIM-M (ANS, couloir imagerie): KOS manifest"
XDSI = "IHE RAD TF-3 §4.68.4.1.2.3 (XDS-I.b manifest)"
KOS_IOD = "PS3.3 §A.35.4 Key Object Selection Document IOD"
INS_PATTERN = re.compile(r"^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8}$")
# dciodvfy's IOD tables predate Retrieve URL in the Hierarchical Series Reference; DRIM-M needs it.
_RETRIEVE_URL_UNKNOWN = "RetrieveURL(0008,1190)"


def text(item: Dataset, keyword: str) -> str:
    """The attribute's value as stripped text ('' when absent or empty)."""
    value = item.get(keyword)
    return "" if value is None else str(value).strip()


def items(item: Dataset, keyword: str) -> list[Dataset]:
    """The items of a sequence attribute ([] when absent or empty)."""
    value = item.get(keyword)
    return list(value) if value else []


def ins_problem(ins: str) -> str | None:
    """Say what is wrong with an INS-NIR (15 characters with its control key), or None."""
    if not INS_PATTERN.match(ins):
        return f"{ins!r} is not 15 characters of an INS-NIR"
    body = ins[:13].replace("2A", "19").replace("2B", "18")
    key = 97 - int(body) % 97
    if int(ins[13:]) != key:
        return f"{ins!r} has control key {ins[13:]}, expected {key:02d}"
    return None


def evidence_series(kos: Kos) -> Iterator[tuple[str, str, Dataset]]:
    """(study UID, tag path of the series item, series item) for every evidence series."""
    for s, study in enumerate(items(kos.dataset, "CurrentRequestedProcedureEvidenceSequence")):
        for index, series in enumerate(items(study, "ReferencedSeriesSequence")):
            yield text(study, "StudyInstanceUID"), f"(0040,A375)[{s}]/(0008,1115)[{index}]", series


@CATALOGUE.rule(
    "KOS-001",
    "kos-iod-error",
    severity=ERROR,
    summary="The KOS must pass the Key Object Selection IOD check (dciodvfy errors)",
    what="dciodvfy (dicom3tools) finds no error in the KOS: every Type 1/2 attribute of the "
    "Key Object Selection Document IOD is there with a valid value.",
    why="A consumer or the DMP parses the KOS with an ordinary DICOM toolkit; a missing "
    "mandatory attribute or a bad VR can make it reject the manifest.",
    bad="Error - </ContentSequence(0040,a730)> - Missing attribute Type 1 Required",
    good="KeyObjectSelectionDocument (no Error line)",
    references=(KOS_IOD, "dicom3tools dciodvfy"),
    subject="kos",
)
def kos_iod_error(subject: KosSubject) -> Iterator[Finding]:
    if subject.checker is None:
        raise NotApplicable
    rule = CATALOGUE["KOS-001"]
    for message in subject.checker.errors:
        yield rule.finding(f"dciodvfy: {message.text}", Location(tag_path=message.location))


@CATALOGUE.rule(
    "KOS-002",
    "kos-iod-warning",
    severity=WARNING,
    summary="dciodvfy warnings on the KOS",
    what="dciodvfy's warnings about the KOS (dubious values, attributes it does not know). "
    "Its warning that Retrieve URL (0008,1190) 'is not present in standard DICOM IOD' is "
    "reported as info: DRIM-M requires that attribute.",
    why="Warnings do not make the KOS unreadable but often reveal a value a strict consumer "
    "will refuse (a retired Person Name form, a missing Study ID for a DICOMDIR).",
    bad="Warning - </PatientName(0010,0010)[1]> - Value dubious for this VR [PN]",
    good="PatientName = DUPONT^JEAN",
    references=(KOS_IOD, "dicom3tools dciodvfy"),
    subject="kos",
)
def kos_iod_warning(subject: KosSubject) -> Iterator[Finding]:
    if subject.checker is None:
        raise NotApplicable
    rule = CATALOGUE["KOS-002"]
    for message in subject.checker.warnings:
        expected = (message.location or "").endswith(_RETRIEVE_URL_UNKNOWN)
        yield rule.finding(
            f"dciodvfy: {message.text}",
            Location(tag_path=message.location),
            severity=INFO if expected else None,
        )


@CATALOGUE.rule(
    "KOS-003",
    "kos-not-key-object-selection",
    severity=ERROR,
    summary="The document must be a Key Object Selection Document",
    what="SOP Class UID (0008,0016) is 1.2.840.10008.5.1.4.1.1.88.59, and the File Meta "
    "Media Storage SOP Class UID agrees.",
    why="DRIM-M publishes the exam as an XDS-I.b manifest, which is a KOS; consumers look "
    "for that SOP Class and ignore anything else.",
    bad="(0008,0016) SOPClassUID = 1.2.840.10008.5.1.4.1.1.88.11 (Basic Text SR)",
    good="(0008,0016) SOPClassUID = 1.2.840.10008.5.1.4.1.1.88.59",
    references=(KOS_IOD, XDSI),
    subject="kos",
)
def kos_not_key_object_selection(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-003"]
    sop_class = text(subject.kos.dataset, "SOPClassUID")
    if sop_class != KOS_SOP_CLASS_UID:
        yield rule.finding(
            "the document is not a Key Object Selection Document",
            Location(tag_path="(0008,0016)"),
            expected=KOS_SOP_CLASS_UID,
            actual=sop_class or "(absent)",
        )
    meta = getattr(subject.kos.dataset, "file_meta", None)
    media = text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
    if media and sop_class and media != sop_class:
        yield rule.finding(
            "File Meta Media Storage SOP Class UID differs from the SOP Class UID",
            Location(tag_path="(0002,0002)"),
            expected=sop_class,
            actual=media,
        )


@CATALOGUE.rule(
    "KOS-004",
    "kos-modality-not-ko",
    severity=ERROR,
    summary="The KOS series must have Modality KO",
    what="Modality (0008,0060) of the KOS is `KO`.",
    why="PS3.3 §C.17.6.1 fixes KO for the Key Object Document Series; archives and viewers "
    "file the manifest apart from the images by that modality.",
    bad="(0008,0060) Modality = SR",
    good="(0008,0060) Modality = KO",
    references=("PS3.3 §C.17.6.1 Key Object Document Series Module", DRIM_M),
    subject="kos",
)
def kos_modality_not_ko(subject: KosSubject) -> Iterator[Finding]:
    modality = text(subject.kos.dataset, "Modality")
    if modality != KOS_MODALITY:
        yield CATALOGUE["KOS-004"].finding(
            "Modality is not KO",
            Location(tag_path="(0008,0060)"),
            expected=KOS_MODALITY,
            actual=modality or "(absent)",
        )


@CATALOGUE.rule(
    "KOS-005",
    "kos-title-not-manifest",
    severity=ERROR,
    summary='The KOS title must be (113030, DCM, "Manifest")',
    what="Concept Name Code Sequence (0040,A043) of the root container holds code 113030 of "
    "scheme DCM; a Code Meaning other than 'Manifest' (any case) is a warning.",
    why="XDS-I.b identifies the manifest of an exam by that title; a KOS with another title "
    "(e.g. 113000 'Of Interest') is a key-image note, not the exam's manifest.",
    bad='(0040,A043) = (113000, DCM, "Of Interest")',
    good='(0040,A043) = (113030, DCM, "Manifest")',
    references=(XDSI, "PS3.16 CID 7010", DRIM_M),
    subject="kos",
)
def kos_title_not_manifest(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-005"]
    wanted = f"{MANIFEST_TITLE.value} {MANIFEST_TITLE.scheme}"
    where = Location(tag_path="(0040,A043)")
    titles = items(subject.kos.dataset, "ConceptNameCodeSequence")
    if not titles:
        yield rule.finding("the KOS has no document title", where, expected=wanted)
        return
    code = (text(titles[0], "CodeValue"), text(titles[0], "CodingSchemeDesignator"))
    if code != (MANIFEST_TITLE.value, MANIFEST_TITLE.scheme):
        yield rule.finding(
            "the document title is not the Manifest code",
            where,
            expected=wanted,
            actual=" ".join(code).strip() or "(empty)",
        )
    elif text(titles[0], "CodeMeaning").lower() != MANIFEST_TITLE.meaning.lower():
        yield rule.finding(
            "the title's Code Meaning is not 'Manifest'",
            where,
            expected=MANIFEST_TITLE.meaning,
            actual=text(titles[0], "CodeMeaning"),
            severity=WARNING,
        )


@CATALOGUE.rule(
    "KOS-006",
    "kos-root-not-separate-container",
    severity=ERROR,
    summary="The KOS root must be a CONTAINER with Continuity Of Content SEPARATE",
    what="Value Type (0040,A040) is CONTAINER and Continuity Of Content (0040,A050) SEPARATE.",
    why="TID 2010 (Key Object Selection) requires it; SR readers walk the tree from a "
    "container root.",
    bad="(0040,A040) = TEXT",
    good="(0040,A040) = CONTAINER, (0040,A050) = SEPARATE",
    references=("PS3.16 TID 2010", KOS_IOD),
    subject="kos",
)
def kos_root_not_separate_container(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-006"]
    for keyword, tag, wanted in (
        ("ValueType", "(0040,A040)", "CONTAINER"),
        ("ContinuityOfContent", "(0040,A050)", "SEPARATE"),
    ):
        value = text(subject.kos.dataset, keyword)
        if value != wanted:
            yield rule.finding(
                f"{keyword} is not {wanted}",
                Location(tag_path=tag),
                expected=wanted,
                actual=value or "(absent)",
            )


@CATALOGUE.rule(
    "KOS-007",
    "kos-patient-not-ins",
    severity=ERROR,
    summary="The KOS patient must be identified by an INS issued by ASIP-SANTE-INS-NIR",
    what="Patient ID (0010,0020) is a well-formed INS-NIR (15 characters, valid control key) "
    f"and Issuer of Patient ID (0010,0021) is `{INS_ISSUER}`.",
    why="The DMP files documents by the patient's INS (Identifiant National de Santé); a "
    "local patient number cannot be matched and the exam ends in the wrong record or none.",
    bad="(0010,0020) = 123456, (0010,0021) = HOPITAL-X",
    good=f"(0010,0020) = 162018885045327, (0010,0021) = {INS_ISSUER}",
    references=(DRIM_M, "CI-SIS Volet Partage de documents d'imagerie (INS)"),
    subject="kos",
)
def kos_patient_not_ins(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-007"]
    patient_id = text(subject.kos.dataset, "PatientID")
    issuer = text(subject.kos.dataset, "IssuerOfPatientID")
    problem = ins_problem(patient_id) if patient_id else "no Patient ID"
    if problem:
        yield rule.finding(
            f"Patient ID is not an INS: {problem}",
            Location(tag_path="(0010,0020)"),
            actual=patient_id or "(empty)",
        )
    if issuer != INS_ISSUER:
        yield rule.finding(
            "Issuer of Patient ID is not the INS issuer",
            Location(tag_path="(0010,0021)"),
            expected=INS_ISSUER,
            actual=issuer or "(absent)",
        )


def _qualifier_problems(item: Dataset) -> str | None:
    qualifiers = items(item, "IssuerOfPatientIDQualifiersSequence")
    if not qualifiers:
        return "no Issuer of Patient ID Qualifiers Sequence (0010,0024)"
    entity = text(qualifiers[0], "UniversalEntityID")
    kind = text(qualifiers[0], "UniversalEntityIDType")
    if (entity, kind) != (INS_ISSUER_OID, "ISO"):
        return f"issuer qualifiers are {entity or '(none)'} {kind or '(none)'}"
    return None


@CATALOGUE.rule(
    "KOS-008",
    "kos-ins-qualifiers-missing",
    severity=ERROR,
    summary="The INS issuer must be qualified by OID 1.2.250.1.213.1.4.10 (ISO)",
    what="Issuer of Patient ID Qualifiers Sequence (0010,0024) has Universal Entity ID "
    f"{INS_ISSUER_OID} of type ISO, at the top level and in Other Patient IDs Sequence "
    "(0010,1002), which repeats the INS (a warning when that sequence is missing).",
    why="The OID is what the XDS metadata carries (`INS^^^&1.2.250.1.213.1.4.10&ISO^NH`); "
    "without it a consumer cannot tell an INS from any other number.",
    bad="(0010,0024) absent",
    good=f"(0010,0024)[0] UniversalEntityID = {INS_ISSUER_OID}, UniversalEntityIDType = ISO",
    references=(DRIM_M, "PS3.3 §C.7.1.1 Patient Module"),
    subject="kos",
)
def kos_ins_qualifiers_missing(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-008"]
    problem = _qualifier_problems(subject.kos.dataset)
    if problem:
        yield rule.finding(
            problem,
            Location(tag_path="(0010,0024)"),
            expected=f"{INS_ISSUER_OID} ISO",
        )
    others = items(subject.kos.dataset, "OtherPatientIDsSequence")
    if not others:
        yield rule.finding(
            "Other Patient IDs Sequence does not repeat the INS",
            Location(tag_path="(0010,1002)"),
            severity=WARNING,
        )
        return
    patient_id = text(subject.kos.dataset, "PatientID")
    if not any(text(o, "PatientID") == patient_id for o in others):
        yield rule.finding(
            "Other Patient IDs Sequence does not hold the Patient ID",
            Location(tag_path="(0010,1002)"),
            expected=patient_id,
            actual=", ".join(text(o, "PatientID") for o in others),
            severity=WARNING,
        )
    for index, other in enumerate(others):
        if text(other, "PatientID") == patient_id and _qualifier_problems(other):
            yield rule.finding(
                "the repeated INS has no ISO qualifier " + INS_ISSUER_OID,
                Location(tag_path=f"(0010,1002)[{index}]/(0010,0024)"),
                severity=WARNING,
            )


@CATALOGUE.rule(
    "KOS-009",
    "kos-request-missing",
    severity=ERROR,
    summary="The KOS must name its request: Referenced Request Sequence with the study UID",
    what="Referenced Request Sequence (0040,A370) has an item whose Study Instance UID is "
    "the KOS's own (0020,000D).",
    why="The request ties the manifest to the order and the accession number the DMP and "
    "the report (CDA) use; a consumer matching a report to its images needs it.",
    bad="(0040,A370) absent",
    good="(0040,A370)[0]/(0020,000D) = the study UID of the KOS",
    references=(XDSI, "PS3.3 §C.17.6.2 Key Object Document Module"),
    subject="kos",
)
def kos_request_missing(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-009"]
    requests = items(subject.kos.dataset, "ReferencedRequestSequence")
    if not requests:
        yield rule.finding("no Referenced Request Sequence", Location(tag_path="(0040,A370)"))
        return
    study = text(subject.kos.dataset, "StudyInstanceUID")
    for index, request in enumerate(requests):
        found = text(request, "StudyInstanceUID")
        if found != study:
            yield rule.finding(
                "the request's Study Instance UID is not the KOS's",
                Location(tag_path=f"(0040,A370)[{index}]/(0020,000D)"),
                expected=study,
                actual=found or "(absent)",
            )


@CATALOGUE.rule(
    "KOS-010",
    "kos-accession-missing",
    severity=ERROR,
    summary="The KOS request must carry the accession number and its issuer",
    what="Each Referenced Request Sequence item has a non-empty Accession Number (0008,0050) "
    "and an Issuer of Accession Number Sequence (0008,0051) with a Local Namespace or "
    "Universal Entity ID.",
    why="The accession number (with its assigning authority) is the key the DMP metadata "
    "(`urn:ihe:iti:xds:2013:accession`) and the report share with the images.",
    bad="(0040,A370)[0]/(0008,0050) = ''",
    good="(0040,A370)[0]/(0008,0050) = TSE2026..., (0008,0051)[0]/(0040,0032) = 1.2.250...",
    references=(XDSI, DRIM_M),
    subject="kos",
)
def kos_accession_missing(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-010"]
    for index, request in enumerate(items(subject.kos.dataset, "ReferencedRequestSequence")):
        base = f"(0040,A370)[{index}]"
        if not text(request, "AccessionNumber"):
            yield rule.finding(
                "the request has no Accession Number", Location(tag_path=f"{base}/(0008,0050)")
            )
        issuers = items(request, "IssuerOfAccessionNumberSequence")
        if not issuers or not (
            text(issuers[0], "LocalNamespaceEntityID") or text(issuers[0], "UniversalEntityID")
        ):
            yield rule.finding(
                "the request has no Issuer of Accession Number",
                Location(tag_path=f"{base}/(0008,0051)"),
            )
