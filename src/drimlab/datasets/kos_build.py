"""Building the DRIM-M KOS manifest of an exam (Key Object Selection, title 113030 "Manifest").

The manifest follows the XDS-I.b / DRIM-M profile: the patient block of the images (INS and
its issuer), the request (accession number, placer order), one evidence item per series with
its WADO-RS Retrieve URL, one IMAGE content item per instance and a TEXT description.
UIDs are derived from the exam and the base URL, so the same inputs give the same KOS.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from drimlab.domain import (
    INS_ISSUER,
    INS_ISSUER_OID,
    KEY_OBJECT_DESCRIPTION,
    KOS_MODALITY,
    KOS_SOP_CLASS_UID,
    MANIFEST_TITLE,
)
from drimlab.errors import InputError

KOS_MANUFACTURER = "drimlab"

_PATIENT_KEYWORDS = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "PatientBirthDate",
    "PatientSex",
    "OtherPatientIDsSequence",
)
_REQUEST_KEYWORDS = (
    "PlacerOrderNumberImagingServiceRequest",
    "OrderPlacerIdentifierSequence",
    "FillerOrderNumberImagingServiceRequest",
    "OrderFillerIdentifierSequence",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "RequestedProcedureCodeSequence",
)


@dataclass(frozen=True)
class SeriesEvidence:
    """What the manifest says of one series: its UID, modality, label and instances."""

    series_instance_uid: str
    modality: str
    series_number: int | None
    description: str
    instances: tuple[tuple[str, str], ...]  # (SOP Class UID, SOP Instance UID), in order


def retrieve_url(base_url: str, study_uid: str, series_uid: str) -> str:
    """The WADO-RS Retrieve URL of a series: `{base}/studies/{study}/series/{series}`."""
    return f"{base_url.rstrip('/')}/studies/{study_uid}/series/{series_uid}"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _entity(uid: str) -> Dataset:
    item = Dataset()
    item.UniversalEntityID = uid
    item.UniversalEntityIDType = "ISO"
    return item


def _number(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def group_series(images: Iterable[Dataset]) -> tuple[str, Dataset, tuple[SeriesEvidence, ...]]:
    """Group image headers by series: (study UID, first header, series in number order)."""
    first: Dataset | None = None
    study_uid = ""
    by_series: dict[str, list[Dataset]] = {}
    for image in images:
        uid = str(image.get("StudyInstanceUID", ""))
        if first is None:
            first, study_uid = image, uid
        elif uid != study_uid:
            raise InputError(f"images of two studies given for one KOS: {study_uid} and {uid}")
        if not image.get("SeriesInstanceUID") or not image.get("SOPInstanceUID"):
            raise InputError("an image without SeriesInstanceUID or SOPInstanceUID")
        by_series.setdefault(str(image.SeriesInstanceUID), []).append(image)
    if first is None or not study_uid:
        raise InputError("no image (or no StudyInstanceUID) to build a KOS from")

    def series_key(item: tuple[str, list[Dataset]]) -> tuple[int, str]:
        number = _number(item[1][0].get("SeriesNumber"))
        return (number if number is not None else 1 << 30, item[0])

    def instance_key(image: Dataset) -> tuple[int, str]:
        number = _number(image.get("InstanceNumber"))
        return (number if number is not None else 1 << 30, str(image.SOPInstanceUID))

    series = []
    for series_uid, members in sorted(by_series.items(), key=series_key):
        members.sort(key=instance_key)
        head = members[0]
        seen: set[str] = set()
        refs = []
        for image in members:
            sop_uid = str(image.SOPInstanceUID)
            if sop_uid not in seen:
                seen.add(sop_uid)
                refs.append((str(image.SOPClassUID), sop_uid))
        series.append(
            SeriesEvidence(
                series_instance_uid=series_uid,
                modality=str(head.get("Modality", "")),
                series_number=_number(head.get("SeriesNumber")),
                description=str(head.get("SeriesDescription", "")),
                instances=tuple(refs),
            )
        )
    return study_uid, first, tuple(series)


def describe_exam(head: Dataset, series: Sequence[SeriesEvidence]) -> str:
    """The Key Object Description text: the exam, then one line per series."""
    count = sum(len(s.instances) for s in series)
    label = str(head.get("StudyDescription", "")) or "Exam"
    lines = [
        f"Examen : {label}",
        f"Date : {head.get('StudyDate', '')}  Accession : {head.get('AccessionNumber', '')}",
        f"{len(series)} series, {count} instances",
    ]
    for s in series:
        number = "" if s.series_number is None else str(s.series_number)
        lines.append(
            f"Serie {number} {s.modality} : {s.description or '-'} "
            f"({len(s.instances)} instances) {s.series_instance_uid}"
        )
    return "\n".join(lines)


def _patient_block(kos: Dataset, head: Dataset) -> None:
    for keyword in _PATIENT_KEYWORDS:
        if keyword in head:
            setattr(kos, keyword, head[keyword].value)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"):
        if keyword not in kos:
            setattr(kos, keyword, "")
    issuer = str(kos.get("IssuerOfPatientID", ""))
    if issuer == INS_ISSUER and "IssuerOfPatientIDQualifiersSequence" not in kos:
        kos.IssuerOfPatientIDQualifiersSequence = DicomSequence([_entity(INS_ISSUER_OID)])
    if "OtherPatientIDsSequence" not in kos and kos.PatientID and issuer:
        other = Dataset()
        other.PatientID = kos.PatientID
        other.IssuerOfPatientID = issuer
        other.TypeOfPatientID = "TEXT"
        if "IssuerOfPatientIDQualifiersSequence" in kos:
            other.IssuerOfPatientIDQualifiersSequence = DicomSequence(
                [_entity(str(q.UniversalEntityID)) for q in kos.IssuerOfPatientIDQualifiersSequence]
            )
        kos.OtherPatientIDsSequence = DicomSequence([other])


def _request_item(head: Dataset, study_uid: str) -> Dataset:
    request = Dataset()
    request.StudyInstanceUID = study_uid
    request.ReferencedStudySequence = DicomSequence()
    request.AccessionNumber = head.get("AccessionNumber", "")
    if "IssuerOfAccessionNumberSequence" in head:
        request.IssuerOfAccessionNumberSequence = head.IssuerOfAccessionNumberSequence
    attrs = head.get("RequestAttributesSequence") or [Dataset()]
    sources = (attrs[0], head)
    for keyword in _REQUEST_KEYWORDS:
        for source in sources:
            if keyword in source:
                setattr(request, keyword, source[keyword].value)
                break
    for keyword in (
        "PlacerOrderNumberImagingServiceRequest",
        "FillerOrderNumberImagingServiceRequest",
        "RequestedProcedureID",
        "RequestedProcedureDescription",
    ):
        if keyword not in request:
            setattr(request, keyword, "")
    if "RequestedProcedureCodeSequence" not in request:
        request.RequestedProcedureCodeSequence = DicomSequence()
    return request


def _evidence(study_uid: str, series: Sequence[SeriesEvidence], base_url: str) -> Dataset:
    study = Dataset()
    study.StudyInstanceUID = study_uid
    items = []
    for s in series:
        item = Dataset()
        item.SeriesInstanceUID = s.series_instance_uid
        item.RetrieveURL = retrieve_url(base_url, study_uid, s.series_instance_uid)
        item.ReferencedSOPSequence = DicomSequence(
            [_sop_reference(cls, uid) for cls, uid in s.instances]
        )
        items.append(item)
    study.ReferencedSeriesSequence = DicomSequence(items)
    return study


def _sop_reference(sop_class: str, sop_instance: str) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = sop_class
    ref.ReferencedSOPInstanceUID = sop_instance
    return ref


def _content(head: Dataset, series: Sequence[SeriesEvidence]) -> DicomSequence:
    text = Dataset()
    text.RelationshipType = "CONTAINS"
    text.ValueType = "TEXT"
    text.ConceptNameCodeSequence = DicomSequence([_code(*KEY_OBJECT_DESCRIPTION)])
    text.TextValue = describe_exam(head, series)
    # TID 2010 lists the description before the image references.
    items = [text]
    for s in series:
        for sop_class, sop_instance in s.instances:
            image = Dataset()
            image.RelationshipType = "CONTAINS"
            image.ValueType = "IMAGE"
            image.ReferencedSOPSequence = DicomSequence([_sop_reference(sop_class, sop_instance)])
            items.append(image)
    return DicomSequence(items)


def build_kos(images: Iterable[Dataset], base_url: str) -> Dataset:
    """The DRIM-M KOS manifest of the exam the image headers belong to, for a WADO-RS base."""
    if not base_url.startswith(("http://", "https://")):
        raise InputError(f"WADO-RS base URL must start with http:// or https://: {base_url!r}")
    base_url = base_url.rstrip("/")
    study_uid, head, series = group_series(images)
    all_sops = sorted(uid for s in series for _, uid in s.instances)
    entropy = ["drimlab-kos", study_uid, base_url, *all_sops]
    sop_uid = generate_uid(entropy_srcs=[*entropy, "instance"])
    series_uid = generate_uid(entropy_srcs=[*entropy, "series"])
    date = str(head.get("StudyDate", "")) or "19700101"
    time = str(head.get("StudyTime", "")) or "000000"

    kos = Dataset()
    kos.SpecificCharacterSet = "ISO_IR 192"
    kos.InstanceCreationDate = date
    kos.InstanceCreationTime = time
    kos.SOPClassUID = KOS_SOP_CLASS_UID
    kos.SOPInstanceUID = sop_uid
    kos.StudyDate = head.get("StudyDate", "")
    kos.StudyTime = head.get("StudyTime", "")
    kos.ContentDate = date
    kos.ContentTime = time
    kos.AccessionNumber = head.get("AccessionNumber", "")
    if "IssuerOfAccessionNumberSequence" in head:
        kos.IssuerOfAccessionNumberSequence = head.IssuerOfAccessionNumberSequence
    kos.Modality = KOS_MODALITY
    kos.Manufacturer = KOS_MANUFACTURER
    if "InstitutionName" in head:
        kos.InstitutionName = head.InstitutionName
    kos.ReferringPhysicianName = head.get("ReferringPhysicianName", "")
    if "StudyDescription" in head:
        kos.StudyDescription = head.StudyDescription
    kos.ReferencedPerformedProcedureStepSequence = DicomSequence()
    _patient_block(kos, head)
    kos.StudyInstanceUID = study_uid
    kos.SeriesInstanceUID = series_uid
    kos.StudyID = head.get("StudyID", "")
    kos.SeriesNumber = 9999
    kos.InstanceNumber = 1
    kos.ValueType = "CONTAINER"
    kos.ConceptNameCodeSequence = DicomSequence([_code(*MANIFEST_TITLE)])
    kos.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "2010"
    kos.ContentTemplateSequence = DicomSequence([template])
    kos.ReferencedRequestSequence = DicomSequence([_request_item(head, study_uid)])
    kos.CurrentRequestedProcedureEvidenceSequence = DicomSequence(
        [_evidence(study_uid, series, base_url)]
    )
    kos.ContentSequence = _content(head, series)
    return kos


def write_kos(kos: Dataset, path: Path) -> None:
    """Write a KOS as an Explicit VR Little Endian Part 10 file (preamble and File Meta)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = kos.SOPClassUID
    meta.MediaStorageSOPInstanceUID = kos.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    kos.file_meta = meta
    kos.preamble = b"\0" * 128
    path.parent.mkdir(parents=True, exist_ok=True)
    kos.save_as(path, enforce_file_format=True)
