"""XDS.b metadata (ebRIM 3.0) as typed objects: a ProvideAndRegisterDocumentSet-b message.

`parse_submission` accepts a SOAP envelope, a bare ProvideAndRegisterDocumentSetRequest or a
bare SubmitObjectsRequest (the METADATA.XML of an XDM archive) and returns a frozen
`Submission`: its DocumentEntries (ExtrinsicObject), SubmissionSets (RegistryPackage),
Associations and, for Provide and Register, the ids of the attached Documents.
The classification and identification schemes are the fixed UUIDs of IHE ITI TF-3 §4.2.5.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from drimlab.documents.xml import parse_untrusted
from drimlab.domain import KOS_FORMAT_CODE, KOS_MIME_TYPE, KOS_TYPE_CODE
from drimlab.errors import InputError

RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
XDSB = "urn:ihe:iti:xds-b:2007"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

# IHE ITI TF-3 §4.2.5 (Table 4.2.5-1 and the attribute tables of §4.2.3).
DOCUMENT_ENTRY_STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_ENTRY_ON_DEMAND = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
ENTRY_SCHEMES = {
    "author": "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d",
    "classCode": "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a",
    "confidentialityCode": "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f",
    "eventCodeList": "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4",
    "formatCode": "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
    "healthcareFacilityTypeCode": "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1",
    "practiceSettingCode": "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead",
    "typeCode": "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983",
    "patientId": "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427",
    "uniqueId": "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab",
}
SUBMISSION_SCHEMES = {
    "author": "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d",
    "contentTypeCode": "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500",
    "patientId": "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446",
    "sourceId": "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832",
    "uniqueId": "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8",
}
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
ASSOCIATION_TYPES = frozenset(
    {
        HAS_MEMBER,
        "urn:ihe:iti:2007:AssociationType:RPLC",
        "urn:ihe:iti:2007:AssociationType:XFRM",
        "urn:ihe:iti:2007:AssociationType:APND",
        "urn:ihe:iti:2007:AssociationType:XFRM_RPLC",
        "urn:ihe:iti:2007:AssociationType:signs",
        "urn:ihe:iti:2010:AssociationType:IsSnapshotOf",
    }
)
REFERENCE_ID_LIST = "urn:ihe:iti:xds:2013:referenceIdList"


@dataclass(frozen=True)
class Classification:
    """One ebRIM Classification: a coded value (`code`, `scheme`) under a classification scheme."""

    id: str
    classification_scheme: str
    classification_node: str
    classified_object: str
    code: str
    coding_scheme: str
    display_name: str
    slots: tuple[tuple[str, tuple[str, ...]], ...]
    line: int | None

    def slot(self, name: str) -> tuple[str, ...]:
        return next((values for key, values in self.slots if key == name), ())


@dataclass(frozen=True)
class ExternalIdentifier:
    """One ebRIM ExternalIdentifier (patientId, uniqueId, sourceId)."""

    id: str
    identification_scheme: str
    registry_object: str
    value: str


@dataclass(frozen=True)
class RegistryObject:
    """A DocumentEntry (ExtrinsicObject) or a SubmissionSet / Folder (RegistryPackage)."""

    element: str
    id: str
    mime_type: str
    object_type: str
    title: str
    slots: tuple[tuple[str, tuple[str, ...]], ...]
    classifications: tuple[Classification, ...]
    identifiers: tuple[ExternalIdentifier, ...]
    line: int | None

    def slot(self, name: str) -> tuple[str, ...] | None:
        """The values of the named slot, or None when the slot is absent."""
        return next((values for key, values in self.slots if key == name), None)

    def first(self, name: str) -> str:
        values = self.slot(name)
        return values[0].strip() if values else ""

    def classified(self, scheme: str) -> list[Classification]:
        return [c for c in self.classifications if c.classification_scheme == scheme]

    def identifier(self, scheme: str) -> str | None:
        found = next((i for i in self.identifiers if i.identification_scheme == scheme), None)
        return None if found is None else found.value.strip()


@dataclass(frozen=True)
class Association:
    """One ebRIM Association between two registry objects."""

    id: str
    association_type: str
    source_object: str
    target_object: str
    slots: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Submission:
    """The metadata of one XDS.b submission, as parsed."""

    label: str
    entries: tuple[RegistryObject, ...]
    packages: tuple[RegistryObject, ...]
    associations: tuple[Association, ...]
    node_classifications: tuple[Classification, ...]
    documents: tuple[str, ...] | None  # Document ids of a Provide and Register, else None
    ids: tuple[str, ...]  # every id attribute, in document order (duplicates kept)

    @property
    def submission_sets(self) -> list[RegistryObject]:
        every = (*self.node_classifications, *(c for p in self.packages for c in p.classifications))
        marked = {
            c.classified_object for c in every if c.classification_node == SUBMISSION_SET_NODE
        }
        return [
            p
            for p in self.packages
            if p.id in marked or p.identifier(SUBMISSION_SCHEMES["uniqueId"]) is not None
        ]

    @property
    def kos_entries(self) -> list[RegistryObject]:
        """DocumentEntries that carry a KOS: DICOM mime type, IMG-KOS type or KOS format."""
        return [e for e in self.entries if is_kos_entry(e)]

    def object_ids(self) -> set[str]:
        return {o.id for o in (*self.entries, *self.packages)}


def is_kos_entry(entry: RegistryObject) -> bool:
    """True for a DocumentEntry that describes a KOS manifest."""
    if entry.mime_type == KOS_MIME_TYPE:
        return True
    codes = {c.code for c in entry.classifications}
    return KOS_TYPE_CODE in codes or KOS_FORMAT_CODE in codes


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    yield from element.iterchildren(_q(RIM, name))


def _slots(element: etree._Element) -> tuple[tuple[str, tuple[str, ...]], ...]:
    found = []
    for slot in _children(element, "Slot"):
        values = tuple((v.text or "") for v in slot.iter(_q(RIM, "Value")))
        found.append((slot.get("name", ""), values))
    return tuple(found)


def _localized(element: etree._Element, name: str) -> str:
    for holder in _children(element, name):
        for string in holder.iter(_q(RIM, "LocalizedString")):
            return string.get("value", "")
    return ""


def _line(element: etree._Element) -> int | None:
    line = element.sourceline
    return line if isinstance(line, int) else None


def _classification(element: etree._Element) -> Classification:
    slots = _slots(element)
    coding = next((values for key, values in slots if key == "codingScheme"), ())
    return Classification(
        id=element.get("id", ""),
        classification_scheme=element.get("classificationScheme", ""),
        classification_node=element.get("classificationNode", ""),
        classified_object=element.get("classifiedObject", ""),
        code=element.get("nodeRepresentation", ""),
        coding_scheme=coding[0].strip() if coding else "",
        display_name=_localized(element, "Name"),
        slots=slots,
        line=_line(element),
    )


def _registry_object(element: etree._Element) -> RegistryObject:
    return RegistryObject(
        element=etree.QName(element).localname,
        id=element.get("id", ""),
        mime_type=element.get("mimeType", ""),
        object_type=element.get("objectType", ""),
        title=_localized(element, "Name"),
        slots=_slots(element),
        classifications=tuple(_classification(c) for c in _children(element, "Classification")),
        identifiers=tuple(
            ExternalIdentifier(
                id=e.get("id", ""),
                identification_scheme=e.get("identificationScheme", ""),
                registry_object=e.get("registryObject", ""),
                value=e.get("value", ""),
            )
            for e in _children(element, "ExternalIdentifier")
        ),
        line=_line(element),
    )


def soap_part(data: bytes) -> bytes:
    """The XML of a message: the whole input, or the root part of an MTOM/XOP MIME package."""
    head = data.lstrip()[:200]
    if not head.startswith(b"--"):
        return data
    boundary = head.split(b"\n", 1)[0].strip()
    for part in data.split(boundary)[1:]:
        headers, found, body = part.replace(b"\r\n", b"\n").partition(b"\n\n")
        kind = headers.lower()
        if found and (b"xop+xml" in kind or b"soap+xml" in kind or b"text/xml" in kind):
            return body.strip()
    return data


def parse_submission(data: bytes, label: str = "<xml>") -> Submission:
    """Parse XDS.b metadata; InputError when the bytes are not XML or hold no submission.

    The input may be bare XML or an MTOM/XOP package whose root part holds the envelope.
    """
    root = parse_untrusted(soap_part(data), label)
    request = root if root.tag == _q(LCM, "SubmitObjectsRequest") else None
    if request is None:
        request = next(root.iter(_q(LCM, "SubmitObjectsRequest")), None)
    if request is None:
        raise InputError(
            f"{label}: no SubmitObjectsRequest (not a ProvideAndRegisterDocumentSet-b message "
            "nor XDM metadata)"
        )
    object_list = next(request.iterchildren(_q(RIM, "RegistryObjectList")), None)
    if object_list is None:
        raise InputError(f"{label}: SubmitObjectsRequest without RegistryObjectList")
    provide = next(root.iter(_q(XDSB, "ProvideAndRegisterDocumentSetRequest")), None)
    documents = None
    if provide is not None:
        documents = tuple(d.get("id", "") for d in provide.iterchildren(_q(XDSB, "Document")))
    return Submission(
        label=label,
        entries=tuple(_registry_object(e) for e in _children(object_list, "ExtrinsicObject")),
        packages=tuple(_registry_object(e) for e in _children(object_list, "RegistryPackage")),
        associations=tuple(
            Association(
                id=a.get("id", ""),
                association_type=a.get("associationType", ""),
                source_object=a.get("sourceObject", ""),
                target_object=a.get("targetObject", ""),
                slots=_slots(a),
            )
            for a in _children(object_list, "Association")
        ),
        node_classifications=tuple(
            _classification(c) for c in _children(object_list, "Classification")
        ),
        documents=documents,
        ids=tuple(
            str(e.get("id")) for e in object_list.iter(etree.Element) if e.get("id") is not None
        ),
    )


def parse_cx(value: str) -> tuple[str, str, str] | None:
    """Split an HL7 CX/CXi value `id^^^&oid&ISO^type` into (id, oid, type), or None."""
    parts = value.strip().split("^")
    if len(parts) < 4 or not parts[0]:
        return None
    authority = parts[3].split("&")
    if len(authority) != 3 or authority[2] != "ISO" or not authority[1]:
        return None
    kind = parts[4] if len(parts) > 4 else ""
    return parts[0], authority[1], kind
