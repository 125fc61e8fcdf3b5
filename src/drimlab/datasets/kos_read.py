"""Reading a KOS manifest (ours or anyone's) into a frozen `KosSummary`.

Both simulators start from it: the consumer derives the WADO-RS URL of every series from
the Retrieve URLs, the source checks that a request names a series its KOS references.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import KeyObjectSelectionDocumentStorage

from drimlab.errors import InputError

_STUDIES = "/studies/"


@dataclass(frozen=True)
class SopReference:
    """One referenced instance: its SOP Class UID and SOP Instance UID."""

    sop_class_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class KosSeries:
    """One series of the evidence: UIDs, Retrieve URL (empty when absent) and instances."""

    study_instance_uid: str
    series_instance_uid: str
    retrieve_url: str
    instances: tuple[SopReference, ...]

    @property
    def base_url(self) -> str:
        """Everything before `/studies/` in the Retrieve URL ('' when it has none)."""
        head, found, _ = self.retrieve_url.partition(_STUDIES)
        return head if found else ""


@dataclass(frozen=True)
class KosSummary:
    """What a DRIM-M consumer needs from a KOS, plus the problems met while reading it."""

    sop_instance_uid: str
    study_instance_uid: str
    patient_id: str
    issuer_of_patient_id: str
    patient_name: str
    accession_number: str
    accession_issuer: str
    title: str
    series: tuple[KosSeries, ...]
    base_url: str
    problems: tuple[str, ...] = ()

    @property
    def instance_count(self) -> int:
        return sum(len(s.instances) for s in self.series)

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The distinct WADO-RS bases of the Retrieve URLs, in order of appearance."""
        return tuple(dict.fromkeys(s.base_url for s in self.series if s.base_url))

    def series_by_uid(self, series_uid: str) -> KosSeries | None:
        return next((s for s in self.series if s.series_instance_uid == series_uid), None)

    def references(self, sop_instance_uid: str) -> bool:
        """True when the KOS references this SOP Instance UID."""
        return any(
            ref.sop_instance_uid == sop_instance_uid for s in self.series for ref in s.instances
        )


def load_dataset(source: Path | str | bytes, label: str | None = None) -> Dataset:
    """Parse a DICOM file (path or bytes) or raise InputError with a one-line reason."""
    name = label or ("<bytes>" if isinstance(source, bytes) else str(source))
    try:
        if isinstance(source, bytes):
            return dcmread(BytesIO(source))
        return dcmread(Path(source))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a DICOM file") from None
    except InvalidDicomError:
        raise InputError(f"{name}: not a DICOM file (no DICM prefix after the preamble)") from None
    except Exception as exc:  # pydicom raises many types on damaged input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: unreadable DICOM file ({reason})") from None


def _text(item: Dataset, keyword: str) -> str:
    value = item.get(keyword)
    return "" if value is None else str(value).strip()


def _issuer(item: Dataset, keyword: str) -> str:
    issuers = item.get(keyword) or []
    if not issuers:
        return ""
    first = issuers[0]
    return _text(first, "LocalNamespaceEntityID") or _text(first, "UniversalEntityID")


def _series_problems(study_uid: str, series: KosSeries) -> list[str]:
    where = f"series {series.series_instance_uid}"
    if not series.retrieve_url:
        return [f"{where} has no Retrieve URL (0008,1190)"]
    if not series.base_url:
        return [f"{where}: Retrieve URL has no /studies/ path: {series.retrieve_url}"]
    expected = f"{_STUDIES}{study_uid}/series/{series.series_instance_uid}"
    if not series.retrieve_url.rstrip("/").endswith(expected):
        return [f"{where}: Retrieve URL does not name this study and series"]
    return []


def read_kos(source: Path | str | bytes | Dataset) -> KosSummary:
    """Summarise a KOS (a path, the bytes of a Part 10 file, or a parsed Dataset)."""
    ds = source if isinstance(source, Dataset) else load_dataset(source)
    name = "dataset" if isinstance(source, Dataset) else "<bytes>"
    if isinstance(source, (str, Path)):
        name = str(source)
    sop_class = _text(ds, "SOPClassUID")
    if sop_class != KeyObjectSelectionDocumentStorage:
        shown = sop_class or "none"
        raise InputError(f"{name}: not a KOS (SOP Class UID {shown}, expected 88.59)")
    evidence = ds.get("CurrentRequestedProcedureEvidenceSequence") or []
    if not evidence:
        raise InputError(f"{name}: KOS without Current Requested Procedure Evidence Sequence")

    series: list[KosSeries] = []
    problems: list[str] = []
    for study_item in evidence:
        study_uid = _text(study_item, "StudyInstanceUID")
        for item in study_item.get("ReferencedSeriesSequence") or []:
            refs = tuple(
                SopReference(
                    _text(ref, "ReferencedSOPClassUID"), _text(ref, "ReferencedSOPInstanceUID")
                )
                for ref in item.get("ReferencedSOPSequence") or []
            )
            one = KosSeries(
                study_instance_uid=study_uid,
                series_instance_uid=_text(item, "SeriesInstanceUID"),
                retrieve_url=_text(item, "RetrieveURL"),
                instances=refs,
            )
            series.append(one)
            problems.extend(_series_problems(study_uid, one))
    if not series:
        raise InputError(f"{name}: KOS references no series")

    requests = ds.get("ReferencedRequestSequence") or [Dataset()]
    request = requests[0]
    study_uid = _text(ds, "StudyInstanceUID") or series[0].study_instance_uid
    if any(s.study_instance_uid != study_uid for s in series):
        problems.append("the evidence references a study other than the KOS's own")
    bases = list(dict.fromkeys(s.base_url for s in series if s.base_url))
    if len(bases) > 1:
        problems.append("inconsistent WADO-RS bases in Retrieve URLs: " + ", ".join(bases))
    title_items = ds.get("ConceptNameCodeSequence") or [Dataset()]
    return KosSummary(
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=study_uid,
        patient_id=_text(ds, "PatientID"),
        issuer_of_patient_id=_text(ds, "IssuerOfPatientID"),
        patient_name=_text(ds, "PatientName"),
        accession_number=_text(request, "AccessionNumber") or _text(ds, "AccessionNumber"),
        accession_issuer=_issuer(request, "IssuerOfAccessionNumberSequence")
        or _issuer(ds, "IssuerOfAccessionNumberSequence"),
        title=_text(title_items[0], "CodeValue"),
        series=tuple(series),
        base_url=bases[0] if bases else "",
        problems=tuple(problems),
    )


def is_manifest(ds: Dataset) -> bool:
    """True for a Key Object Selection document titled 113030 "Manifest"."""
    if _text(ds, "SOPClassUID") != KeyObjectSelectionDocumentStorage:
        return False
    titles = ds.get("ConceptNameCodeSequence") or []
    return bool(titles) and _text(titles[0], "CodeValue") == "113030"
