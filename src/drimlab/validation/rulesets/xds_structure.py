"""XDS structure: references, associations, documents, dates, identifiers of the DMP metadata.

The attribute and code rules of the KOS DocumentEntry are in `xds.py`; these judge how the
submission holds together. Rules run over a parsed `Submission`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.xds import (
    ASSOCIATION_TYPES,
    DOCUMENT_ENTRY_ON_DEMAND,
    DOCUMENT_ENTRY_STABLE,
    ENTRY_SCHEMES,
    HAS_MEMBER,
    REFERENCE_ID_LIST,
    Submission,
    parse_cx,
)
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.xds import (
    ACCESSION,
    DRIM_M,
    DTM,
    DTM_SLOTS,
    DTM_ZONED,
    ITI,
    ITI_PNR,
    ORDER,
    STUDY,
    at,
    kos_entries,
)
from drimlab.validation.subjects import NotApplicable

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


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
    for entry in kos_entries(submission):
        values = entry.slot(REFERENCE_ID_LIST) or ()
        kinds: set[str] = set()
        for value in values:
            parsed = parse_cx(value)
            if parsed is None:
                yield rule.finding("malformed CXi value", at(entry), actual=value)
                continue
            kinds.add(parsed[2])
        for kind in (ACCESSION, STUDY):
            if kind not in kinds:
                yield rule.finding(f"no {kind} reference", at(entry), expected=kind)
        if ORDER not in kinds:
            yield rule.finding(f"no {ORDER} reference", at(entry), severity=WARNING)


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
                at(entry),
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
                at(entry),
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
                yield rule.finding(f"slot {name} has {len(values)} values", at(owner))
                continue
            problem = _dtm_problem(values[0].strip())
            if problem:
                yield rule.finding(
                    f"{name} {problem[1]}", at(owner), actual=values[0], severity=problem[0]
                )
        start, stop = owner.first("serviceStartTime")[:14], owner.first("serviceStopTime")[:14]
        if start.isdigit() and stop.isdigit() and len(start) == len(stop) and start > stop:
            yield rule.finding("serviceStartTime is after serviceStopTime", at(owner))


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
    for entry in kos_entries(submission):
        value = entry.identifier(ENTRY_SCHEMES["uniqueId"])
        if value and uid_problem(value):
            yield CATALOGUE["XDS-015"].finding(
                f"uniqueId is not a UID: {uid_problem(value)}",
                at(entry, "/ExternalIdentifier(uniqueId)"),
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
                at(entry),
                expected=DOCUMENT_ENTRY_STABLE,
                actual=entry.object_type or "(absent)",
            )
