"""The KOS manifest (Key Object Selection Document), read once into a frozen `Kos`.

`read_kos` parses a Part 10 file (a path, its bytes, or a parsed Dataset) and every nested
value at once, then extracts what DRIM-M uses: the KOS's own UIDs, the patient (INS) and
the request, and each Referenced Series of the evidence with its Retrieve URL and SOP
references. The parsed dataset stays on the model for the KOS rules. The simulators derive
their WADO-RS URLs from it, the request and response rules compare a message against it, the
cross-validation compares it with the other documents of the exam.

    >>> kos = read_kos(Path("kos.dcm"))  # doctest: +SKIP
    >>> kos.base_url, [s.series_instance_uid for s in kos.series]  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from threading import Lock

from pydicom import Dataset
from pydicom.sequence import Sequence as DicomSequence

from drimlab.documents.identity import PatientIdentity, patient_identity
from drimlab.documents.part10 import quiet_values, read_bytes, read_dataset, touch_values
from drimlab.domain import KOS_SOP_CLASS_UID, MANIFEST_TITLE
from drimlab.errors import InputError

STUDIES = "/studies/"
# The server simulator reads the KOS named by every request it records: keep the last few.
_KEPT_CONTENTS = 32


@dataclass(frozen=True)
class SopReference:
    """One Referenced SOP Sequence item: the SOP Class UID and SOP Instance UID of an image."""

    sop_class_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class ReferencedSeries:
    """One Referenced Series Sequence item of the evidence: UIDs, Retrieve URL, instances.

    `retrieve_url` is '' when the item has none.
    """

    study_instance_uid: str
    series_instance_uid: str
    retrieve_url: str
    instances: tuple[SopReference, ...]

    @property
    def base_url(self) -> str:
        """Everything before `/studies/` in the Retrieve URL ('' when it has none)."""
        head, found, _ = self.retrieve_url.partition(STUDIES)
        return head if found else ""


@dataclass(frozen=True)
class Issuer:
    """An Issuer of Accession Number Sequence item (HL7 v2 HD): namespace and/or universal ID."""

    local_namespace_entity_id: str = ""
    universal_entity_id: str = ""
    universal_entity_id_type: str = ""

    @property
    def name(self) -> str:
        """The local namespace, else the universal ID: how a person reads the issuer."""
        return self.local_namespace_entity_id or self.universal_entity_id

    @property
    def authority(self) -> str:
        """The universal ID, else the local namespace: the assigning authority XDS and CDA use."""
        return self.universal_entity_id or self.local_namespace_entity_id


@dataclass(frozen=True)
class Kos:
    """A KOS manifest read once: its facts, the problems met while reading, the dataset.

    Text fields are '' when the attribute is absent. `dataset` is the parsed file, shared by
    every reader of the same content: read it, never modify it.
    """

    label: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    study_date: str
    patient_id: str
    issuer_of_patient_id: str
    patient_name: str
    accession_number: str
    accession_issuer: Issuer
    placer_order_number: str
    title: str  # the Code Value of the document title (Concept Name Code Sequence)
    series: tuple[ReferencedSeries, ...]
    problems: tuple[str, ...]
    dataset: Dataset = field(repr=False, compare=False)

    @property
    def instance_count(self) -> int:
        return sum(len(s.instances) for s in self.series)

    @cached_property
    def patient(self) -> PatientIdentity:
        """The patient the manifest is about: PatientID, its issuer, other IDs, the INS."""
        with quiet_values():
            return patient_identity(self.dataset)

    def series_of(self, sop_instance_uid: str) -> ReferencedSeries | None:
        """The Referenced Series listing this SOP Instance UID (None when none does)."""
        return next(
            (
                s
                for s in self.series
                if any(r.sop_instance_uid == sop_instance_uid for r in s.instances)
            ),
            None,
        )

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The distinct WADO-RS bases of the Retrieve URLs, in order of appearance."""
        return tuple(dict.fromkeys(s.base_url for s in self.series if s.base_url))

    @property
    def base_url(self) -> str:
        """The first WADO-RS base of the Retrieve URLs ('' when none has one)."""
        bases = self.base_urls
        return bases[0] if bases else ""

    def series_by_uid(self, series_uid: str) -> ReferencedSeries | None:
        return next((s for s in self.series if s.series_instance_uid == series_uid), None)

    def references(self, sop_instance_uid: str) -> bool:
        """True when the KOS references this SOP Instance UID."""
        return any(
            ref.sop_instance_uid == sop_instance_uid for s in self.series for ref in s.instances
        )


def _text(item: Dataset, keyword: str) -> str:
    value = item.get(keyword)
    return "" if value is None else str(value).strip()


def _items(item: Dataset, keyword: str) -> list[Dataset]:
    """The items of a sequence attribute ([] when absent, empty or not a sequence)."""
    value = item.get(keyword)
    if not isinstance(value, DicomSequence):
        return []
    return [one for one in value if isinstance(one, Dataset)]


def _first(item: Dataset, keyword: str) -> Dataset:
    found = _items(item, keyword)
    return found[0] if found else Dataset()


def _issuer(item: Dataset) -> Issuer:
    first = _first(item, "IssuerOfAccessionNumberSequence")
    return Issuer(
        local_namespace_entity_id=_text(first, "LocalNamespaceEntityID"),
        universal_entity_id=_text(first, "UniversalEntityID"),
        universal_entity_id_type=_text(first, "UniversalEntityIDType"),
    )


def _series_problems(study_uid: str, series: ReferencedSeries) -> list[str]:
    where = f"series {series.series_instance_uid}"
    if not series.retrieve_url:
        return [f"{where} has no Retrieve URL (0008,1190)"]
    if not series.base_url:
        return [f"{where}: Retrieve URL has no /studies/ path: {series.retrieve_url}"]
    expected = f"{STUDIES}{study_uid}/series/{series.series_instance_uid}"
    if not series.retrieve_url.rstrip("/").endswith(expected):
        return [f"{where}: Retrieve URL does not name this study and series"]
    return []


def _evidence(ds: Dataset) -> tuple[list[ReferencedSeries], list[str]]:
    series: list[ReferencedSeries] = []
    problems: list[str] = []
    for study_item in _items(ds, "CurrentRequestedProcedureEvidenceSequence"):
        study_uid = _text(study_item, "StudyInstanceUID")
        for item in _items(study_item, "ReferencedSeriesSequence"):
            one = ReferencedSeries(
                study_instance_uid=study_uid,
                series_instance_uid=_text(item, "SeriesInstanceUID"),
                retrieve_url=_text(item, "RetrieveURL"),
                instances=tuple(
                    SopReference(
                        _text(ref, "ReferencedSOPClassUID"), _text(ref, "ReferencedSOPInstanceUID")
                    )
                    for ref in _items(item, "ReferencedSOPSequence")
                ),
            )
            series.append(one)
            problems.extend(_series_problems(study_uid, one))
    return series, problems


def _extract(ds: Dataset, label: str) -> Kos:
    series, problems = _evidence(ds)
    request = _first(ds, "ReferencedRequestSequence")
    study_uid = _text(ds, "StudyInstanceUID") or (series[0].study_instance_uid if series else "")
    if any(s.study_instance_uid != study_uid for s in series):
        problems.append("the evidence references a study other than the KOS's own")
    bases = list(dict.fromkeys(s.base_url for s in series if s.base_url))
    if len(bases) > 1:
        problems.append("inconsistent WADO-RS bases in Retrieve URLs: " + ", ".join(bases))
    issuer = _issuer(request)
    if not issuer.name:
        issuer = _issuer(ds)
    return Kos(
        label=label,
        sop_class_uid=_text(ds, "SOPClassUID"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=study_uid,
        study_date=_text(ds, "StudyDate"),
        patient_id=_text(ds, "PatientID"),
        issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
        patient_name=_text(ds, "PatientName"),
        accession_number=_text(request, "AccessionNumber") or _text(ds, "AccessionNumber"),
        accession_issuer=issuer,
        placer_order_number=_text(request, "PlacerOrderNumberImagingServiceRequest"),
        title=_text(_first(ds, "ConceptNameCodeSequence"), "CodeValue"),
        series=tuple(series),
        problems=tuple(problems),
        dataset=ds,
    )


def _build(ds: Dataset, label: str) -> Kos:
    try:
        with quiet_values():
            return _extract(ds, label)
    except Exception as exc:  # a damaged dataset may break the extraction in any way
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{label}: unreadable KOS ({reason})") from None


def _not_a_manifest(kos: Kos) -> str | None:
    """Why the KOS cannot serve as a manifest (another SOP class, no evidence), or None."""
    if kos.sop_class_uid != KOS_SOP_CLASS_UID:
        shown = kos.sop_class_uid or "none"
        return f"not a KOS (SOP Class UID {shown}, expected 88.59)"
    if not _items(kos.dataset, "CurrentRequestedProcedureEvidenceSequence"):
        return "KOS without Current Requested Procedure Evidence Sequence"
    if not kos.series:
        return "KOS references no series"
    return None


class _ReadOnce:
    """The `Kos` of recently read contents, by SHA-256 and label: equal contents parse once."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, str], Kos] = OrderedDict()
        self._lock = Lock()

    def read(self, data: bytes, label: str) -> Kos:
        key = (hashlib.sha256(data).hexdigest(), label)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        kos = _build(read_dataset(data, label), label)
        with self._lock:
            self._kept[key] = kos
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return kos


_READ_ONCE = _ReadOnce(_KEPT_CONTENTS)


def read_kos(
    source: Path | str | bytes | Dataset, *, label: str | None = None, strict: bool = True
) -> Kos:
    """Read a KOS once: a path, the bytes of a Part 10 file, or a parsed Dataset.

    A file that is not DICOM, or whose values do not parse, is an InputError with a one-line
    reason. With `strict` (the default) so is a DICOM file that is not a usable manifest
    (another SOP class, no evidence, no series); `strict=False` reads any DICOM file, for
    the KOS rules to judge. Reading the same content again is cheap: it is parsed once.
    """
    if isinstance(source, Dataset):
        name = label or "dataset"
        touch_values(source, name)
        kos = _build(source, name)
    else:
        if isinstance(source, bytes):
            name, data = label or "<bytes>", source
        else:
            name = label or str(source)
            data = read_bytes(Path(source), name)
        kos = _READ_ONCE.read(data, name)
    problem = _not_a_manifest(kos) if strict else None
    if problem is not None:
        raise InputError(f"{name}: {problem}")
    return kos


def is_manifest(ds: Dataset) -> bool:
    """True for a Key Object Selection Document titled 113030 "Manifest" (any header)."""
    if _text(ds, "SOPClassUID") != KOS_SOP_CLASS_UID:
        return False
    return _text(_first(ds, "ConceptNameCodeSequence"), "CodeValue") == MANIFEST_TITLE.value
