"""ORU: the HL7 v2 report message (ORU^R01) must announce the exam the KOS describes.

The ANS cross-validator takes the HL7 v2 message beside the CDA, the KOS and the XDS metadata.
Each rule compares one fact of the ORU (read by `documents.hl7v2`) with the KOS, or with the
XDS DocumentEntry for the DMP confidentiality flags; a rule whose facts are absent is not
applicable. They judge the cross-validation subject like the XVAL rules, in a family of their
own so that an exchange of documents without an HL7 message leaves no XVAL rule unchecked.
Patient names are compared loosely (the ANS samples vary: family only, given only,
both), so a name difference is a warning; an INS difference is an error.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.documents.cross import CrossSubject
from drimlab.documents.hl7v2 import OruMessage
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.cross import DRIM_M
from drimlab.validation.subjects import NotApplicable

ERROR, WARNING = Severity.ERROR, Severity.WARNING
CISIS = "ANS CI-SIS, Transmission de documents CDA en HL7 v2 (ORU^R01, OBX MetaDMPMSS)"
#: The XDS confidentialityCode each ORU flag stands for (DMP code system 1.2.250.1.213.1.1.4.13).
FLAG_CODES = {"MASQUE_PS": "MASQUE_PS", "INVISIBLE_PATIENT": "INVISIBLE_PATIENT"}


def _hl7(subject: CrossSubject) -> OruMessage:
    if subject.hl7 is None:
        raise NotApplicable
    return subject.hl7


def _differ(code: str, fact: str, kos: str, hl7: tuple[str, str], report: OruMessage) -> Finding:
    return CATALOGUE[code].finding(
        f"{fact}: KOS = {kos or '(empty)'} but HL7 {hl7[0]} = {hl7[1] or '(empty)'}",
        Location(path=report.label),
        expected=kos,
        actual=hl7[1],
    )


@CATALOGUE.rule(
    "ORU-001",
    "oru-patient-mismatch",
    severity=ERROR,
    summary="The HL7 v2 report message must name the KOS's patient (INS)",
    what="The INS of PID-3 (the identifier whose assigning authority is ASIP-SANTE-INS-NIR or an "
    "INS OID) equals the KOS's INS; a PID-3 without an INS is an error too.",
    why="The ORU files the report in a patient's record: under another INS, or none, the report "
    "and the images of one exam end up with different patients.",
    bad="KOS 162018885045327; PID|||274075176079430^^^ASIP-SANTE-INS-NIR&...&ISO^INS",
    good="KOS 162018885045327; PID|||162018885045327^^^ASIP-SANTE-INS-NIR&...&ISO^INS",
    references=(DRIM_M, CISIS, "HL7 v2.5 §3.4.2.3 (PID-3)"),
    subject="cross",
)
def oru_patient_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    report = _hl7(subject)
    wanted = subject.kos.patient.ins or subject.kos.patient_id
    if report.ins != wanted:
        shown = report.ins or ", ".join(f"{i.value} ({i.authority})" for i in report.patient_ids)
        yield _differ("ORU-001", "patient INS", wanted, ("PID-3", shown), report)


@CATALOGUE.rule(
    "ORU-002",
    "oru-accession-mismatch",
    severity=ERROR,
    summary="The HL7 v2 report message must carry the KOS's accession number",
    what="OBR-18 (placer field 1, the accession number in IHE Radiology), else the filler order "
    "number (OBR-3, else ORC-3), equals the KOS Accession Number (0008,0050).",
    why="The accession number ties the report to the exam; the DMP shows them together by it.",
    bad="KOS ACC1; OBR|1||RAD-2024-042^HOPITAL_A|...",
    good="KOS ACC1; OBR|1||ACC1^HOPITAL_A|...",
    references=(DRIM_M, CISIS, "IHE RAD TF-2 (OBR-18 accession number)"),
    subject="cross",
)
def oru_accession_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    report = _hl7(subject)
    if not report.accession_number or not subject.kos.accession_number:
        raise NotApplicable
    if report.accession_number != subject.kos.accession_number:
        where = "OBR-18" if report.accession_number != report.filler_order_number else "OBR-3"
        yield _differ(
            "ORU-002",
            "accession number",
            subject.kos.accession_number,
            (where, report.accession_number),
            report,
        )


@CATALOGUE.rule(
    "ORU-003",
    "oru-study-uid-mismatch",
    severity=ERROR,
    summary="A study UID the HL7 v2 report message carries must be the KOS's",
    what="When the ORU carries a Study Instance UID (ZDS-1, or an OBX coded 113014 DICOM Study), "
    "it equals the KOS Study Instance UID (0020,000D).",
    why="The report then points at another exam than the one the KOS shares.",
    bad="KOS 1.2.3.116; ZDS|1.2.3.18^^Application^DICOM",
    good="KOS 1.2.3.116; ZDS|1.2.3.116^^Application^DICOM",
    references=(DRIM_M, "IHE RAD TF-2 (ZDS segment)"),
    subject="cross",
)
def oru_study_uid_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    report = _hl7(subject)
    if not report.study_instance_uid:
        raise NotApplicable
    if report.study_instance_uid != subject.kos.study_instance_uid:
        yield _differ(
            "ORU-003",
            "study UID",
            subject.kos.study_instance_uid,
            ("ZDS-1", report.study_instance_uid),
            report,
        )


@CATALOGUE.rule(
    "ORU-004",
    "oru-confidentiality-mismatch",
    severity=ERROR,
    summary="The DMP flags of the HL7 v2 message must match the XDS confidentialityCode",
    what="With the XDS metadata given: an ORU flag MASQUE_PS or INVISIBLE_PATIENT valued Y is a "
    "confidentialityCode of the KOS DocumentEntry, and one valued N is not.",
    why="MASQUE_PS hides a document from other professionals, INVISIBLE_PATIENT from the patient: "
    "if the metadata and the message disagree, the DMP shows what the producer meant to hide "
    "(or hides what it meant to show).",
    bad="OBX|2|CE|MASQUE_PS^...^MetaDMPMSS||Y  with no MASQUE_PS confidentialityCode",
    good="OBX|2|CE|MASQUE_PS^...^MetaDMPMSS||Y  and confidentialityCode MASQUE_PS",
    references=(DRIM_M, CISIS, "DMP: confidentialityCode 1.2.250.1.213.1.1.4.13"),
    subject="cross",
)
def oru_confidentiality_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    report = _hl7(subject)
    xds = subject.xds
    flags = {k: v for k, v in report.flags.items() if k in FLAG_CODES}
    if xds is None or not flags:
        raise NotApplicable
    codes = set(xds.confidentiality)
    for flag, value in sorted(flags.items()):
        listed = FLAG_CODES[flag] in codes
        if value != listed:
            yield CATALOGUE["ORU-004"].finding(
                f"{flag}: HL7 OBX says {'Y' if value else 'N'} but the XDS DocumentEntry "
                f"{'has no' if value else 'has the'} confidentialityCode {FLAG_CODES[flag]}",
                Location(path=f"{report.label} vs {xds.label}"),
                expected="Y" if listed else "N",
                actual="Y" if value else "N",
            )


def _words(text: str) -> str:
    return " ".join(text.replace("-", " ").upper().split())


@CATALOGUE.rule(
    "ORU-005",
    "oru-patient-name-mismatch",
    severity=WARNING,
    summary="The patient's name in the HL7 v2 message should agree with the KOS's",
    what="PID-5's family name equals the KOS Patient's Name family name (case and hyphens "
    "aside), and its given name the KOS's when both have one: a name with the family or the "
    "given name only, as the ANS samples have, is compared on what it has.",
    why="The name is what a person checks: a different name with the same INS is a clerical "
    "slip worth a look, not proof of another patient (the INS is, ORU-001).",
    bad="KOS DURAND^Jeanne; PID-5 DUPONT^Jeanne",
    good="KOS DURAND^Jeanne; PID-5 DURAND^Jeanne^^^^^L",
    references=(DRIM_M, CISIS, "HL7 v2.5 §3.4.2.5 (PID-5)"),
    subject="cross",
)
def oru_patient_name_mismatch(subject: CrossSubject) -> Iterator[Finding]:
    report = _hl7(subject)
    family, _, rest = subject.kos.patient_name.partition("^")
    given = rest.partition("^")[0]
    if not (report.family_name or report.given_name) or not (family or given):
        raise NotApplicable
    pairs = [("family name", family, report.family_name), ("given name", given, report.given_name)]
    for label, kos, hl7 in pairs:
        if kos and hl7 and _words(kos) != _words(hl7):
            yield _differ("ORU-005", f"patient {label}", kos, ("PID-5", hl7), report)


@CATALOGUE.rule(
    "ORU-006",
    "oru-structure",
    severity=ERROR,
    summary="The HL7 v2 report message must be a whole ORU^R01 carrying its CDA",
    what="MSH-9 is ORU^R01, an OBR segment gives the order, and an OBX of value type ED carries "
    "the CDA report (text/XML). A message cut short, or another message type, fails here; the "
    "other ORU rules then compare what was read.",
    why="A partial or foreign message read field by field yields values that look like "
    "mismatches (an accession number cut in two) when the real fault is the message itself.",
    bad="MSH|...|ORU^R01|... PID|... OBR|1||ACC1^H (cut before the OBX of the CDA)",
    good="MSH|...|ORU^R01|... OBR|1||ACC1^H|... OBX|1|ED|18748-4^...^LN||^TEXT^XML^Base64^...",
    references=(DRIM_M, CISIS, "HL7 v2.5 §7.3.1 (ORU^R01)"),
    subject="cross",
)
def oru_structure(subject: CrossSubject) -> Iterator[Finding]:
    report = _hl7(subject)
    missing = []
    if report.message_type.replace("^", " ").split()[:2] != ["ORU", "R01"]:
        missing.append(f"MSH-9 is {report.message_type or '(empty)'}, not ORU^R01")
    if not report.has_order:
        missing.append("no OBR segment")
    if not report.has_cda:
        missing.append("no OBX of type ED carrying the CDA (the message may be cut short)")
    if missing:
        yield CATALOGUE["ORU-006"].finding(
            "; ".join(missing),
            Location(path=report.label),
            expected="ORU^R01 with OBR and an OBX ED carrying the CDA",
            actual=report.message_type or "(empty)",
        )
