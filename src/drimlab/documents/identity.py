"""Who and what a DICOM object is about: its patient (identifiers with their issuers, the INS)
and its study, series, SOP class and instance, read from a dataset.

A patient can be known under several identifiers: PatientID (0010,0020) with its Issuer of
Patient ID (0010,0021) and qualifiers (0010,0024), and each OtherPatientIDsSequence
(0010,1002) item. In DRIM-M the INS is one of them (issuer `ASIP-SANTE-INS-NIR`, or an INS
OID as Universal Entity ID): the b<>com source adds it to OtherPatientIDsSequence of every
image. Two identities name the same patient when they share an identifier of the same issuer,
and name different patients when one issuer gives them different values.

    identity = patient_identity(dataset)
    identity.ins, identity.conflicts_with(kos_identity)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom import Dataset
from pydicom.sequence import Sequence as DicomSequence

from drimlab.domain import INS_ISSUER, INS_ROOTS


def _text(item: Any, keyword: str) -> str:
    try:
        value = item.get(keyword) if isinstance(item, Dataset) else None
    except Exception:  # an undecodable value of an untrusted file: treat it as absent
        return ""
    return "" if value is None else str(value).strip().rstrip("\x00").strip()


def _items(item: Dataset, keyword: str) -> list[Dataset]:
    try:
        value = item.get(keyword)
    except Exception:
        return []
    if not isinstance(value, DicomSequence):
        return []
    return [one for one in value if isinstance(one, Dataset)]


@dataclass(frozen=True)
class PatientId:
    """One identifier of a patient and who issued it."""

    value: str
    issuer: str = ""  # Issuer of Patient ID
    universal_id: str = ""  # its qualifier's Universal Entity ID (an OID for the INS)

    @property
    def is_ins(self) -> bool:
        """True for the INS: issuer ASIP-SANTE-INS-NIR or an INS OID."""
        return (
            self.issuer == INS_ISSUER or self.issuer in INS_ROOTS or self.universal_id in INS_ROOTS
        )

    @property
    def authority(self) -> str:
        """The issuer as compared: `INS` for any INS form, else the issuer or its OID."""
        if self.is_ins:
            return "INS"
        return self.issuer or self.universal_id

    def __str__(self) -> str:
        issuer = self.issuer or self.universal_id
        return f"{self.value} ({issuer})" if issuer else f"{self.value} (no issuer)"


@dataclass(frozen=True)
class PatientIdentity:
    """Every identifier of the patient of one object, and its name."""

    patient_id: PatientId | None
    other_ids: tuple[PatientId, ...] = ()
    name: str = ""

    @property
    def ids(self) -> tuple[PatientId, ...]:
        return ((self.patient_id,) if self.patient_id else ()) + self.other_ids

    @property
    def ins(self) -> str | None:
        """The INS, wherever it is carried (PatientID or OtherPatientIDsSequence)."""
        return next((i.value for i in self.ids if i.is_ins), None)

    def _by_authority(self) -> dict[str, set[str]]:
        """Identifier values by issuer ('' gathers the identifiers given without an issuer)."""
        found: dict[str, set[str]] = {}
        for one in self.ids:
            found.setdefault(one.authority, set()).add(one.value)
        return found

    def shares_an_id_with(self, other: PatientIdentity) -> bool:
        """True when both carry the same identifier from the same issuer."""
        mine, theirs = self._by_authority(), other._by_authority()
        return any(mine[a] & theirs[a] for a in mine.keys() & theirs.keys())

    def conflicts_with(self, other: PatientIdentity) -> bool:
        """True when one issuer gives the two identities different identifiers."""
        mine, theirs = self._by_authority(), other._by_authority()
        return any(not (mine[a] & theirs[a]) for a in mine.keys() & theirs.keys())

    def __str__(self) -> str:
        bits = [f"PatientID {self.patient_id}" if self.patient_id else "no PatientID"]
        others = [str(i) for i in self.other_ids]
        if others:
            bits.append(f"other IDs {', '.join(others)}")
        ins = self.ins
        bits.append(f"INS {ins}" if ins else "no INS")
        if self.name:
            bits.append(f"name {self.name}")
        return "; ".join(bits)


def _patient_id(item: Dataset) -> PatientId | None:
    value = _text(item, "PatientID")
    if not value:
        return None
    qualifiers = _items(item, "IssuerOfPatientIDQualifiersSequence")
    universal = _text(qualifiers[0], "UniversalEntityID") if qualifiers else ""
    return PatientId(value, _text(item, "IssuerOfPatientID"), universal)


def patient_identity(dataset: Dataset) -> PatientIdentity:
    """The patient identity a dataset carries (absent values are empty, never an error)."""
    others = tuple(
        found
        for item in _items(dataset, "OtherPatientIDsSequence")
        if (found := _patient_id(item)) is not None
    )
    return PatientIdentity(_patient_id(dataset), others, _text(dataset, "PatientName"))


@dataclass(frozen=True)
class ObjectIdentity:
    """What one DICOM object is: its patient, study, series, SOP class and instance.

    Any field may be None when it is not known (e.g. what a request names).
    """

    patient: PatientIdentity | None = None
    study: str | None = None
    series: str | None = None
    sop_class: str | None = None
    instance: str | None = None

    def __str__(self) -> str:
        bits = []
        if self.patient is not None:
            bits.append(f"patient: {self.patient}")
        for label, value in (
            ("study", self.study),
            ("series", self.series),
            ("SOP class", self.sop_class),
            ("instance", self.instance),
        ):
            if value is not None:
                bits.append(f"{label} {value or '(none)'}")
        return " | ".join(bits)


__all__ = ["ObjectIdentity", "PatientId", "PatientIdentity", "patient_identity"]
