"""Writing the XDS.b metadata of a DRIM-M KOS: a SubmitObjectsRequest, a PnR message, XDM metadata.

The values come from the KOS itself (INS, SOP Instance UID, request, dates) and the CI-SIS
codes of `valuesets`; identifiers are derived from the KOS so the same KOS gives the same XML.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from pydicom import Dataset
from pydicom.uid import generate_uid

from drimlab.documents.valuesets import value_sets
from drimlab.documents.xds import (
    DOCUMENT_ENTRY_STABLE,
    ENTRY_SCHEMES,
    HAS_MEMBER,
    LCM,
    REFERENCE_ID_LIST,
    RIM,
    SOAP12,
    SUBMISSION_SCHEMES,
    SUBMISSION_SET_NODE,
    XDSB,
)
from drimlab.domain import INS_ISSUER_OID, KOS_MIME_TYPE

ENTRY_ID = "DocumentKOS"
SET_ID = "SubmissionSet01"
AUTHOR_INSTITUTION_SCHEME = "1.2.250.1.71.4.2.2"
FACILITY = ("SA01", "1.2.250.1.71.4.2.4", "Etablissement public de sante")
PRACTICE = ("ETABLISSEMENT", "1.2.250.1.213.1.1.4.9", "Etablissement de sante")
CONTENT_TYPE = ("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")


@dataclass(frozen=True)
class DocumentFile:
    """Where and how big the KOS file is, for XDM metadata (size, SHA-1 hash, URI)."""

    uri: str
    size: int
    sha1: str


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _first(ds: Dataset, keyword: str) -> Dataset:
    value = ds.get(keyword)
    return value[0] if value else Dataset()


def _rim(name: str, **attributes: str) -> etree._Element:
    return etree.Element(f"{{{RIM}}}{name}", {k: v for k, v in attributes.items() if v})


def _slot(parent: etree._Element, name: str, *values: str) -> None:
    slot = etree.SubElement(parent, f"{{{RIM}}}Slot", name=name)
    holder = etree.SubElement(slot, f"{{{RIM}}}ValueList")
    for value in values:
        etree.SubElement(holder, f"{{{RIM}}}Value").text = value


def _name(parent: etree._Element, value: str, tag: str = "Name") -> None:
    holder = etree.SubElement(parent, f"{{{RIM}}}{tag}")
    etree.SubElement(holder, f"{{{RIM}}}LocalizedString", value=value)


def _code(parent: etree._Element, ident: str, scheme: str, coded: tuple[str, str, str]) -> None:
    code, coding, meaning = coded
    element = etree.SubElement(
        parent,
        f"{{{RIM}}}Classification",
        classificationScheme=scheme,
        classifiedObject=parent.get("id", ""),
        id=ident,
        nodeRepresentation=code,
    )
    _slot(element, "codingScheme", coding)
    _name(element, meaning)


def _author(parent: etree._Element, ident: str, scheme: str, institution: str) -> None:
    element = etree.SubElement(
        parent,
        f"{{{RIM}}}Classification",
        classificationScheme=scheme,
        classifiedObject=parent.get("id", ""),
        id=ident,
        nodeRepresentation="",
    )
    _slot(
        element,
        "authorInstitution",
        f"{institution}^^^^^&{AUTHOR_INSTITUTION_SCHEME}&ISO^IDNST^^^3000000000000",
    )


def _identifier(parent: etree._Element, ident: str, scheme: str, value: str, label: str) -> None:
    element = etree.SubElement(
        parent,
        f"{{{RIM}}}ExternalIdentifier",
        id=ident,
        identificationScheme=scheme,
        registryObject=parent.get("id", ""),
        value=value,
    )
    _name(element, label)


def patient_cx(kos: Dataset) -> str:
    """The INS of the KOS in the XDS form `INS^^^&1.2.250.1.213.1.4.10&ISO^NH`."""
    return f"{_text(kos, 'PatientID')}^^^&{INS_ISSUER_OID}&ISO^NH"


def reference_ids(kos: Dataset) -> list[str]:
    """The referenceIdList values of a KOS: accession, study UID and (when known) order."""
    request = _first(kos, "ReferencedRequestSequence")
    issuer = _first(request, "IssuerOfAccessionNumberSequence")
    authority = _text(issuer, "UniversalEntityID") or "1.2.250.1.213.1.1.9"
    accession = _text(request, "AccessionNumber") or _text(kos, "AccessionNumber")
    study = _text(kos, "StudyInstanceUID")
    values = [
        f"{accession}^^^&{authority}&ISO^urn:ihe:iti:xds:2013:accession",
        f"{study}^^^&{authority}&ISO^urn:ihe:iti:xds:2016:studyInstanceUID",
    ]
    order = _text(request, "PlacerOrderNumberImagingServiceRequest")
    placer = _text(_first(request, "OrderPlacerIdentifierSequence"), "UniversalEntityID")
    if order and placer:
        values.append(f"{order}^^^&{placer}&ISO^urn:ihe:iti:xds:2013:order")
    return values


def submit_objects_request(kos: Dataset, document: DocumentFile | None = None) -> etree._Element:
    """The SubmitObjectsRequest registering one KOS (with size/hash/URI when `document`)."""
    sets = value_sets()
    root = etree.Element(f"{{{LCM}}}SubmitObjectsRequest", nsmap={"rim": RIM, "lcm": LCM})
    objects = etree.SubElement(root, f"{{{RIM}}}RegistryObjectList")
    created = (_text(kos, "ContentDate") + _text(kos, "ContentTime")[:6])[:14]
    started = (_text(kos, "StudyDate") + _text(kos, "StudyTime")[:6])[:14]
    institution = _text(kos, "InstitutionName") or "drimlab"
    entropy = ["drimlab-xds", _text(kos, "SOPInstanceUID")]

    package = _rim("RegistryPackage", id=SET_ID)
    objects.append(package)
    _slot(package, "submissionTime", created)
    _name(package, "DRIM-M KOS submission")
    _author(package, "cla01", SUBMISSION_SCHEMES["author"], institution)
    _code(package, "cla02", SUBMISSION_SCHEMES["contentTypeCode"], CONTENT_TYPE)
    etree.SubElement(
        package,
        f"{{{RIM}}}Classification",
        classificationNode=SUBMISSION_SET_NODE,
        classifiedObject=SET_ID,
        id="cla03",
    )
    _identifier(package, "ei01", SUBMISSION_SCHEMES["patientId"], patient_cx(kos), "patientId")
    source = str(generate_uid(prefix=None, entropy_srcs=[*entropy, "source"]))
    unique = str(generate_uid(prefix=None, entropy_srcs=[*entropy, "set"]))
    _identifier(package, "ei02", SUBMISSION_SCHEMES["sourceId"], source, "sourceId")
    _identifier(package, "ei03", SUBMISSION_SCHEMES["uniqueId"], unique, "uniqueId")

    entry = _rim(
        "ExtrinsicObject",
        id=ENTRY_ID,
        mimeType=KOS_MIME_TYPE,
        objectType=DOCUMENT_ENTRY_STABLE,
    )
    objects.append(entry)
    _slot(entry, "creationTime", created)
    _slot(entry, "languageCode", "fr-FR")
    _slot(entry, "serviceStartTime", started)
    _slot(entry, "sourcePatientId", patient_cx(kos))
    _slot(
        entry,
        "sourcePatientInfo",
        f"PID-5|{_text(kos, 'PatientName')}",
        f"PID-7|{_text(kos, 'PatientBirthDate')}",
        f"PID-8|{_text(kos, 'PatientSex')}",
    )
    if document is not None:
        _slot(entry, "size", str(document.size))
        _slot(entry, "hash", document.sha1)
        _slot(entry, "URI", document.uri)
    _slot(entry, REFERENCE_ID_LIST, *reference_ids(kos))
    _name(entry, "Reference d'objets d'un examen d'imagerie")
    _author(entry, "cla04", ENTRY_SCHEMES["author"], institution)
    for ident, attribute in (
        ("cla05", "classCode"),
        ("cla06", "typeCode"),
        ("cla07", "formatCode"),
    ):
        chosen = sets[attribute]
        code = chosen.kos_code or ""
        coded = (code, chosen.coding_scheme, chosen.codes[code])
        _code(entry, ident, ENTRY_SCHEMES[attribute], coded)
    confidentiality = sets["confidentialityCode"]
    normal = ("N", confidentiality.coding_scheme, "Normal")
    _code(entry, "cla08", ENTRY_SCHEMES["confidentialityCode"], normal)
    _code(entry, "cla09", ENTRY_SCHEMES["healthcareFacilityTypeCode"], FACILITY)
    _code(entry, "cla10", ENTRY_SCHEMES["practiceSettingCode"], PRACTICE)
    _identifier(entry, "ei04", ENTRY_SCHEMES["patientId"], patient_cx(kos), "patientId")
    _identifier(entry, "ei05", ENTRY_SCHEMES["uniqueId"], _text(kos, "SOPInstanceUID"), "uniqueId")

    association = _rim(
        "Association",
        associationType=HAS_MEMBER,
        id="as01",
        sourceObject=SET_ID,
        targetObject=ENTRY_ID,
    )
    objects.append(association)
    _slot(association, "SubmissionSetStatus", "Original")
    return root


def provide_and_register(kos: Dataset) -> bytes:
    """A SOAP 1.2 ProvideAndRegisterDocumentSet-b message for one KOS (document by reference)."""
    envelope = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"soap": SOAP12})
    etree.SubElement(envelope, f"{{{SOAP12}}}Header")
    body = etree.SubElement(envelope, f"{{{SOAP12}}}Body")
    request = etree.SubElement(
        body, f"{{{XDSB}}}ProvideAndRegisterDocumentSetRequest", nsmap={"xdsb": XDSB}
    )
    request.append(submit_objects_request(kos))
    document = etree.SubElement(request, f"{{{XDSB}}}Document", id=ENTRY_ID)
    include = etree.SubElement(document, "{http://www.w3.org/2004/08/xop/include}Include")
    include.set("href", "cid:kos")
    return bytes(
        etree.tostring(envelope, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )


def xdm_metadata(kos: Dataset, document: DocumentFile) -> bytes:
    """The METADATA.XML of an XDM submission set holding one KOS."""
    root = submit_objects_request(kos, document)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
