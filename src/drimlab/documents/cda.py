"""The CDA header fields the cross-validation compares (HL7 CDA R2, CI-SIS imaging report).

Only the header is read: the patient's ids (`recordTarget/patientRole/id`), the order and
accession number (`inFulfillmentOf/order/id`), the study (`documentationOf/serviceEvent/id`,
PS3.20 §9) and the exam date (`documentationOf/serviceEvent/effectiveTime/low`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from drimlab.documents.xml import parse_untrusted
from drimlab.errors import InputError

HL7 = "urn:hl7-org:v3"
_NS = {"h": HL7}


@dataclass(frozen=True)
class CdaId:
    """An II: `root` (an OID) and `extension` (may be empty)."""

    root: str
    extension: str


@dataclass(frozen=True)
class CdaHeader:
    """What a CDA header says of the exam."""

    label: str
    patient_ids: tuple[CdaId, ...]
    order_ids: tuple[CdaId, ...]
    study_ids: tuple[CdaId, ...]
    service_start: str


def _ids(root: etree._Element, path: str) -> tuple[CdaId, ...]:
    found = root.xpath(path, namespaces=_NS)
    elements = (
        [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []
    )
    return tuple(CdaId(e.get("root", "").strip(), e.get("extension", "").strip()) for e in elements)


def read_cda(data: bytes, label: str = "<cda>") -> CdaHeader:
    """Read the header of a CDA document; InputError when it is not a CDA ClinicalDocument."""
    root = parse_untrusted(data, label)
    if root.tag != f"{{{HL7}}}ClinicalDocument":
        raise InputError(f"{label}: not an HL7 CDA ClinicalDocument")
    low = root.xpath(
        "h:documentationOf/h:serviceEvent/h:effectiveTime/h:low/@value", namespaces=_NS
    )
    start = str(low[0]) if isinstance(low, list) and low else ""
    return CdaHeader(
        label=label,
        patient_ids=_ids(root, "h:recordTarget/h:patientRole/h:id"),
        order_ids=_ids(root, "h:inFulfillmentOf/h:order/h:id"),
        study_ids=_ids(root, "h:documentationOf/h:serviceEvent/h:id"),
        service_start=start,
    )
