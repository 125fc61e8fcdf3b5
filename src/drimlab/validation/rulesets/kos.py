"""KOS: conformance of the DRIM-M KOS manifest a source publishes (XDS-I.b manifest).

The IOD itself is checked by dciodvfy (its errors and warnings become KOS-001 / KOS-002);
the other rules check what DRIM-M adds: the INS patient block, the request, the evidence with
one WADO-RS Retrieve URL per series, and content items that match the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from pydicom import Dataset
from pydicom.uid import KeyObjectSelectionDocumentStorage

from drimlab.datasets.kos_build import INS_ISSUER, INS_ISSUER_OID
from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.kos import KosDocument
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable

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


def _evidence_series(kos: KosDocument) -> Iterator[tuple[str, str, Dataset]]:
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
def kos_iod_error(kos: KosDocument) -> Iterator[Finding]:
    if kos.checker is None:
        raise NotApplicable
    rule = CATALOGUE["KOS-001"]
    for message in kos.checker.errors:
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
def kos_iod_warning(kos: KosDocument) -> Iterator[Finding]:
    if kos.checker is None:
        raise NotApplicable
    rule = CATALOGUE["KOS-002"]
    for message in kos.checker.warnings:
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
def kos_not_key_object_selection(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-003"]
    sop_class = text(kos.dataset, "SOPClassUID")
    if sop_class != KeyObjectSelectionDocumentStorage:
        yield rule.finding(
            "the document is not a Key Object Selection Document",
            Location(tag_path="(0008,0016)"),
            expected=KeyObjectSelectionDocumentStorage,
            actual=sop_class or "(absent)",
        )
    meta = getattr(kos.dataset, "file_meta", None)
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
def kos_modality_not_ko(kos: KosDocument) -> Iterator[Finding]:
    modality = text(kos.dataset, "Modality")
    if modality != "KO":
        yield CATALOGUE["KOS-004"].finding(
            "Modality is not KO",
            Location(tag_path="(0008,0060)"),
            expected="KO",
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
def kos_title_not_manifest(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-005"]
    where = Location(tag_path="(0040,A043)")
    titles = items(kos.dataset, "ConceptNameCodeSequence")
    if not titles:
        yield rule.finding("the KOS has no document title", where, expected="113030 DCM")
        return
    code = (text(titles[0], "CodeValue"), text(titles[0], "CodingSchemeDesignator"))
    if code != ("113030", "DCM"):
        yield rule.finding(
            "the document title is not the Manifest code",
            where,
            expected="113030 DCM",
            actual=" ".join(code).strip() or "(empty)",
        )
    elif text(titles[0], "CodeMeaning").lower() != "manifest":
        yield rule.finding(
            "the title's Code Meaning is not 'Manifest'",
            where,
            expected="Manifest",
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
def kos_root_not_separate_container(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-006"]
    for keyword, tag, wanted in (
        ("ValueType", "(0040,A040)", "CONTAINER"),
        ("ContinuityOfContent", "(0040,A050)", "SEPARATE"),
    ):
        value = text(kos.dataset, keyword)
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
def kos_patient_not_ins(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-007"]
    patient_id = text(kos.dataset, "PatientID")
    issuer = text(kos.dataset, "IssuerOfPatientID")
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
def kos_ins_qualifiers_missing(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-008"]
    problem = _qualifier_problems(kos.dataset)
    if problem:
        yield rule.finding(
            problem,
            Location(tag_path="(0010,0024)"),
            expected=f"{INS_ISSUER_OID} ISO",
        )
    others = items(kos.dataset, "OtherPatientIDsSequence")
    if not others:
        yield rule.finding(
            "Other Patient IDs Sequence does not repeat the INS",
            Location(tag_path="(0010,1002)"),
            severity=WARNING,
        )
        return
    patient_id = text(kos.dataset, "PatientID")
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
def kos_request_missing(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-009"]
    requests = items(kos.dataset, "ReferencedRequestSequence")
    if not requests:
        yield rule.finding("no Referenced Request Sequence", Location(tag_path="(0040,A370)"))
        return
    study = text(kos.dataset, "StudyInstanceUID")
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
def kos_accession_missing(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-010"]
    for index, request in enumerate(items(kos.dataset, "ReferencedRequestSequence")):
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


@CATALOGUE.rule(
    "KOS-011",
    "kos-series-uid-invalid",
    severity=ERROR,
    summary="The evidence must reference the KOS's study, each series by a valid UID",
    what="Current Requested Procedure Evidence Sequence (0040,A375) is present, each item's "
    "Study Instance UID is the KOS's, and each Referenced Series Sequence item has a "
    "well-formed Series Instance UID (0020,000E), each series listed once.",
    why="The consumer derives one WADO-RS request per evidence series; a missing or "
    "malformed series UID makes that request impossible.",
    bad="(0040,A375)[0]/(0008,1115)[0]/(0020,000E) absent",
    good="(0040,A375)[0]/(0008,1115)[0]/(0020,000E) = 1.2.826.0.1.3680043.8.498.7864",
    references=(XDSI, "PS3.3 Table 10-4 Hierarchical SOP Instance Reference Macro"),
    subject="kos",
)
def kos_series_uid_invalid(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-011"]
    studies = items(kos.dataset, "CurrentRequestedProcedureEvidenceSequence")
    if not studies:
        yield rule.finding("no evidence sequence", Location(tag_path="(0040,A375)"))
        return
    own = text(kos.dataset, "StudyInstanceUID")
    seen: set[str] = set()
    for s, study in enumerate(studies):
        if text(study, "StudyInstanceUID") != own:
            yield rule.finding(
                "the evidence names another study",
                Location(tag_path=f"(0040,A375)[{s}]/(0020,000D)"),
                expected=own,
                actual=text(study, "StudyInstanceUID") or "(absent)",
            )
        series_items = items(study, "ReferencedSeriesSequence")
        if not series_items:
            yield rule.finding(
                "the evidence lists no series", Location(tag_path=f"(0040,A375)[{s}]/(0008,1115)")
            )
        for index, series in enumerate(series_items):
            uid = text(series, "SeriesInstanceUID")
            where = Location(tag_path=f"(0040,A375)[{s}]/(0008,1115)[{index}]/(0020,000E)")
            problem = uid_problem(uid)
            if problem:
                yield rule.finding(f"Series Instance UID: {problem}", where, actual=uid)
            elif uid in seen:
                yield rule.finding("the series is listed twice", where, actual=uid)
            seen.add(uid)


def _url_problem(url: str, study: str, series: str) -> str | None:
    if not url:
        return "no Retrieve URL (0008,1190)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the Retrieve URL is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the Retrieve URL is not an absolute http(s) URL"
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        return "the Retrieve URL has a query, a fragment or spaces"
    tail = f"/studies/{study}/series/{series}"
    if not parts.path.rstrip("/").endswith(tail):
        return f"the Retrieve URL path does not end with {tail}"
    return None


@CATALOGUE.rule(
    "KOS-012",
    "kos-retrieve-url-invalid",
    severity=ERROR,
    summary="Each series needs a Retrieve URL: the WADO-RS resource of that study and series",
    what="Each Referenced Series Sequence item has a Retrieve URL (0008,1190) that is an "
    "absolute http(s) URL whose path ends with `/studies/{StudyUID}/series/{SeriesUID}` "
    "of that very study and series, without query or fragment.",
    why="The consumer takes everything before `/studies` as the source's WADO-RS base and "
    "fetches the series at the URL: a wrong or missing URL means no images.",
    bad="(0008,1190) = https://pacs.example/wado?studyUID=1.2.3",
    good="(0008,1190) = https://db.example/dicom-web/studies/1.2.3/series/1.2.3.4",
    references=(XDSI, "PS3.18 §10.4.1.1.2 Retrieve Series", DRIM_M),
    subject="kos",
)
def kos_retrieve_url_invalid(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-012"]
    for study, at, series in _evidence_series(kos):
        url = text(series, "RetrieveURL")
        problem = _url_problem(url, study, text(series, "SeriesInstanceUID"))
        if problem:
            yield rule.finding(problem, Location(tag_path=f"{at}/(0008,1190)"), actual=url)


@CATALOGUE.rule(
    "KOS-013",
    "kos-retrieve-url-not-https",
    severity=WARNING,
    summary="A DRIM-M Retrieve URL should use https",
    what="The Retrieve URL scheme is `https`.",
    why="DRIM-M exchanges between DRIMBoxes are mutual TLS only; an `http:` URL (as in the "
    "ANS samples pointing at `http://localhost:4200`) only works on a test bench.",
    bad="(0008,1190) = http://localhost:4200/api/source/studies/1.2/series/1.2.3",
    good="(0008,1190) = https://db.example/dicom-web/studies/1.2/series/1.2.3",
    references=(DRIM_M,),
    subject="kos",
)
def kos_retrieve_url_not_https(kos: KosDocument) -> Iterator[Finding]:
    for _study, at, series in _evidence_series(kos):
        url = text(series, "RetrieveURL")
        if url.lower().startswith("http:"):
            yield CATALOGUE["KOS-013"].finding(
                "the Retrieve URL is plain http",
                Location(tag_path=f"{at}/(0008,1190)"),
                expected="https://...",
                actual=url,
            )


@CATALOGUE.rule(
    "KOS-014",
    "kos-series-without-instances",
    severity=ERROR,
    summary="Each evidence series must list its instances by SOP Class and Instance UID",
    what="Each Referenced Series Sequence item has a non-empty Referenced SOP Sequence "
    "(0008,1199) whose items carry well-formed Referenced SOP Class and Instance UIDs, "
    "each instance listed once.",
    why="The consumer checks the retrieved images against that list and the source uses it "
    "to decide what a KOS gives access to.",
    bad="(0008,1115)[0]/(0008,1199) empty",
    good="(0008,1115)[0]/(0008,1199)[0] = (1.2.840.10008.5.1.4.1.1.2, 1.2.3.4.5)",
    references=(XDSI, "PS3.3 Table 10-4 Hierarchical SOP Instance Reference Macro"),
    subject="kos",
)
def kos_series_without_instances(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-014"]
    seen: set[str] = set()
    for _study, at, series in _evidence_series(kos):
        refs = items(series, "ReferencedSOPSequence")
        base = f"{at}/(0008,1199)"
        if not refs:
            yield rule.finding("the series lists no instance", Location(tag_path=base))
        for r, ref in enumerate(refs):
            for keyword, tag in (
                ("ReferencedSOPClassUID", "(0008,1150)"),
                ("ReferencedSOPInstanceUID", "(0008,1155)"),
            ):
                problem = uid_problem(text(ref, keyword))
                if problem:
                    yield rule.finding(
                        f"{keyword}: {problem}",
                        Location(tag_path=f"{base}[{r}]/{tag}"),
                        actual=text(ref, keyword),
                    )
            uid = text(ref, "ReferencedSOPInstanceUID")
            if uid and uid in seen:
                yield rule.finding(
                    "the instance is listed twice in the evidence",
                    Location(tag_path=f"{base}[{r}]"),
                    actual=uid,
                )
            seen.add(uid)


def _evidence_instances(kos: KosDocument) -> dict[str, str]:
    return {
        text(ref, "ReferencedSOPInstanceUID"): text(ref, "ReferencedSOPClassUID")
        for _study, _at, series in _evidence_series(kos)
        for ref in items(series, "ReferencedSOPSequence")
    }


def _content_references(kos: KosDocument) -> Iterator[tuple[int, str, str]]:
    for index, item in enumerate(items(kos.dataset, "ContentSequence")):
        if text(item, "ValueType") in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            for ref in items(item, "ReferencedSOPSequence") or [Dataset()]:
                yield (
                    index,
                    text(ref, "ReferencedSOPInstanceUID"),
                    text(ref, "ReferencedSOPClassUID"),
                )


@CATALOGUE.rule(
    "KOS-015",
    "kos-content-not-in-evidence",
    severity=ERROR,
    summary="Every IMAGE/COMPOSITE content item must reference an instance of the evidence",
    what="Each IMAGE, COMPOSITE or WAVEFORM item of the Content Sequence (0040,A730) "
    "references an instance listed in the evidence, with the same SOP Class.",
    why="PS3.3 §C.17.6.2.1: the evidence lists every instance the content references; a "
    "content item outside it points at an image nobody can retrieve.",
    bad="(0040,A730)[3] IMAGE -> 1.2.3.99 (not in (0040,A375))",
    good="(0040,A730)[3] IMAGE -> 1.2.3.4 (listed in (0040,A375)[0]/(0008,1115)[0])",
    references=("PS3.3 §C.17.6.2.1", XDSI),
    subject="kos",
)
def kos_content_not_in_evidence(kos: KosDocument) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-015"]
    evidence = _evidence_instances(kos)
    for index, uid, sop_class in _content_references(kos):
        where = Location(tag_path=f"(0040,A730)[{index}]/(0008,1199)")
        if uid not in evidence:
            yield rule.finding(
                "the content item references an instance absent from the evidence",
                where,
                actual=uid or "(no reference)",
            )
        elif evidence[uid] != sop_class:
            yield rule.finding(
                "the content item's SOP Class differs from the evidence",
                where,
                expected=evidence[uid],
                actual=sop_class,
            )


@CATALOGUE.rule(
    "KOS-016",
    "kos-evidence-not-in-content",
    severity=ERROR,
    summary="Every evidence instance must be referenced by a content item",
    what="Each instance of the evidence is referenced by an IMAGE/COMPOSITE content item.",
    why="An XDS-I.b manifest selects every instance of the exam; an instance only in the "
    "evidence is invisible to a viewer that walks the content tree.",
    bad="(0040,A375) lists 10 instances, (0040,A730) references 9",
    good="(0040,A375) and (0040,A730) reference the same 10 instances",
    references=(XDSI, "PS3.16 TID 2010"),
    subject="kos",
)
def kos_evidence_not_in_content(kos: KosDocument) -> Iterator[Finding]:
    referenced = {uid for _index, uid, _class in _content_references(kos)}
    for uid in _evidence_instances(kos):
        if uid and uid not in referenced:
            yield CATALOGUE["KOS-016"].finding(
                "an evidence instance is not referenced by the content",
                Location(tag_path="(0040,A730)"),
                actual=uid,
            )


@CATALOGUE.rule(
    "KOS-017",
    "kos-pixel-data-present",
    severity=ERROR,
    summary="A KOS carries references, never pixel data",
    what="The KOS has no Pixel Data (7FE0,0010), Float or Double Float Pixel Data.",
    why="A manifest is a small structured document the DMP stores; images travel by WADO-RS only.",
    bad="(7FE0,0010) present",
    good="no pixel data element",
    references=(KOS_IOD,),
    subject="kos",
)
def kos_pixel_data_present(kos: KosDocument) -> Iterator[Finding]:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in kos.dataset:
            yield CATALOGUE["KOS-017"].finding(f"the KOS has {keyword}", Location(tag_path=keyword))


@CATALOGUE.rule(
    "KOS-018",
    "kos-description-missing",
    severity=ERROR,
    summary="The KOS must describe the exam in a Key Object Description TEXT item",
    what='The Content Sequence has a TEXT item titled (113012, DCM, "Key Object '
    'Description") with a non-empty Text Value.',
    why="DRIM-M shows that text to the physician choosing which exam to open; without it "
    "the manifest is a bare list of UIDs.",
    bad="(0040,A730) holds IMAGE items only",
    good="(0040,A730)[0] TEXT (113012, DCM, \"Key Object Description\") = 'Examen ... Serie 1'",
    references=(DRIM_M, "PS3.16 TID 2010"),
    subject="kos",
)
def kos_description_missing(kos: KosDocument) -> Iterator[Finding]:
    for item in items(kos.dataset, "ContentSequence"):
        names = items(item, "ConceptNameCodeSequence")
        titled = bool(names) and text(names[0], "CodeValue") == "113012"
        if text(item, "ValueType") == "TEXT" and titled and text(item, "TextValue"):
            return
    yield CATALOGUE["KOS-018"].finding(
        "no Key Object Description text", Location(tag_path="(0040,A730)")
    )
