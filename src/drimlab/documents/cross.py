"""One exam seen from every document: the facts the cross-validation (`XVAL`) compares.

The `Kos` (read by `documents.kos`), `XdsFacts` (from its DocumentEntry), the `CdaHeader`, the
HL7 v2 report message (`OruMessage`, read by `documents.hl7v2`) and one `ImageFacts` per image
file form a `CrossSubject`. Only the DocumentEntry of the XDS metadata is compared: whether it
agrees with its own SubmissionSet is the XDS rules' business (a registry rejects it).
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pydicom import Dataset, dcmread

from drimlab.documents.cda import CdaHeader
from drimlab.documents.hl7v2 import OruMessage
from drimlab.documents.kos import Kos
from drimlab.documents.part10 import quiet_values
from drimlab.documents.xds import (
    ENTRY_SCHEMES,
    REFERENCE_ID_LIST,
    Submission,
    parse_cx,
)
from drimlab.errors import InputError

ACCESSION = "urn:ihe:iti:xds:2013:accession"
STUDY = "urn:ihe:iti:xds:2016:studyInstanceUID"
ORDER = "urn:ihe:iti:xds:2013:order"


def _text(item: Dataset, keyword: str) -> str:
    value = item.get(keyword)
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class XdsFacts:
    """What the KOS DocumentEntry of the XDS metadata says of the exam."""

    label: str
    entry_id: str
    patient_id: str
    unique_id: str
    accession: tuple[str, str] | None  # (number, assigning authority OID)
    study_instance_uid: str
    order_number: str
    service_start: str
    confidentiality: tuple[str, ...] = ()  # the confidentialityCode codes of the entry


def xds_facts(submission: Submission, entry_id: str | None = None) -> XdsFacts:
    """The facts of the KOS DocumentEntry (the first, or `entry_id`); InputError if none."""
    entries = [e for e in submission.kos_entries if entry_id in (None, e.id)]
    if not entries:
        raise InputError(f"{submission.label}: no KOS DocumentEntry to cross-validate")
    entry = entries[0]
    refs: dict[str, tuple[str, str]] = {}
    for value in entry.slot(REFERENCE_ID_LIST) or ():
        parsed = parse_cx(value)
        if parsed is not None:
            refs.setdefault(parsed[2], (parsed[0], parsed[1]))
    patient = parse_cx(entry.identifier(ENTRY_SCHEMES["patientId"]) or "")
    return XdsFacts(
        label=submission.label,
        entry_id=entry.id,
        patient_id=patient[0] if patient else "",
        unique_id=entry.identifier(ENTRY_SCHEMES["uniqueId"]) or "",
        accession=refs.get(ACCESSION),
        study_instance_uid=refs[STUDY][0] if STUDY in refs else "",
        order_number=refs[ORDER][0] if ORDER in refs else "",
        service_start=entry.first("serviceStartTime"),
        confidentiality=tuple(
            c.code for c in entry.classified(ENTRY_SCHEMES["confidentialityCode"]) if c.code
        ),
    )


@dataclass(frozen=True)
class ImageFacts:
    """The identifying attributes of one image file."""

    label: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    patient_id: str
    accession_number: str
    study_date: str


def read_image(data: bytes, label: str) -> ImageFacts:
    """Read an image's header (no pixel data); InputError when it is not DICOM."""
    try:
        with quiet_values():
            ds = dcmread(BytesIO(data), stop_before_pixels=True)
            facts = [
                _text(ds, k)
                for k in (
                    "SOPClassUID",
                    "SOPInstanceUID",
                    "StudyInstanceUID",
                    "SeriesInstanceUID",
                    "PatientID",
                    "AccessionNumber",
                    "StudyDate",
                )
            ]
    except Exception as exc:  # pydicom raises many types on damaged input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{label}: not a readable DICOM file ({reason})") from None
    return ImageFacts(label, *facts)


@dataclass(frozen=True)
class CrossSubject:
    """One exam's KOS and whatever else was given about it."""

    kos: Kos
    xds: XdsFacts | None
    cda: CdaHeader | None
    images: tuple[ImageFacts, ...]
    hl7: OruMessage | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "kos": self.kos.label,
            "study_instance_uid": self.kos.study_instance_uid,
            "xds": self.xds.label if self.xds else None,
            "cda": self.cda.label if self.cda else None,
            "hl7": self.hl7.label if self.hl7 else None,
            "images": len(self.images),
        }
