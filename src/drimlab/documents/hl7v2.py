"""The HL7 v2 report message (ORU^R01) that announces an imaging exam, read once.

In the French CI-SIS ("Transmission de documents CDA en HL7 v2") the producer sends the CDA
report in an ORU^R01: PID-3 the patient identifiers (the INS with its assigning authority,
`ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS` or `...^NH`), PID-5 the name, OBR the order
(OBR-18 placer field 1, the accession number in IHE Radiology; else OBR-3 / ORC-3, the filler
order number), an OBX of type ED with the CDA, and one OBX per DMP flag of the MetaDMPMSS
coding system (`MASQUE_PS`, `INVISIBLE_PATIENT`, ... valued `Y` or `N`). The Study Instance
UID, when the message carries it, is ZDS-1 (IHE Radiology) or an OBX coded (113014, DCM).

Segments are split and unescaped by `hl7` (python-hl7); `read_hl7` gives an `OruMessage` or an
InputError for a message that is not HL7 v2 at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hl7

from drimlab.domain import INS_ISSUER, INS_ROOTS
from drimlab.errors import InputError

#: The DMP confidentiality flags an ORU carries as OBX (coding system MetaDMPMSS).
DMP_FLAGS = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REP_LEGAUX", "CONNEXION_SECRETE")
STUDY_CODE = "113014"  # (113014, DCM, "DICOM Study")


@dataclass(frozen=True)
class Hl7Id:
    """One PID-3 identifier (CX): the value, its assigning authority and identifier type."""

    value: str
    authority: str = ""  # namespace ID
    authority_oid: str = ""  # universal ID
    type_code: str = ""  # PI, NH, INS...

    @property
    def is_ins(self) -> bool:
        return (
            self.authority == INS_ISSUER
            or self.authority_oid in INS_ROOTS
            or self.authority.startswith("ASIP-SANTE-INS")
        )


@dataclass(frozen=True)
class OruMessage:
    """What an ORU^R01 says of the exam it announces."""

    label: str
    message_type: str
    patient_ids: tuple[Hl7Id, ...]
    family_name: str
    given_name: str
    accession_number: str
    filler_order_number: str
    study_instance_uid: str
    flags: dict[str, bool] = field(default_factory=dict)
    has_cda: bool = False
    has_order: bool = False

    @property
    def ins(self) -> str:
        """The INS of PID-3 ('' when none is an INS)."""
        return next((i.value for i in self.patient_ids if i.is_ins), "")


def _text(message: Any, value: object) -> str:
    return str(message.unescape(str(value))).strip()


def _parts(text: str, separator: str) -> list[str]:
    return text.split(separator)


def _component(text: str, index: int, separator: str = "^") -> str:
    """The `index`-th (1-based) component of a field's text ('' when absent)."""
    pieces = _parts(text, separator)
    return pieces[index - 1].strip() if len(pieces) >= index else ""


def _field(message: Any, segment: Any, index: int) -> str:
    try:
        return _text(message, segment(index))
    except (IndexError, KeyError):
        return ""


def _segment(message: Any, name: str) -> Any | None:
    try:
        return message.segment(name)
    except KeyError:
        return None


def _ids(message: Any, pid: Any) -> tuple[Hl7Id, ...]:
    found = []
    for repetition in _parts(_field(message, pid, 3), "~"):
        if not repetition.strip():
            continue
        authority = _component(repetition, 4)
        found.append(
            Hl7Id(
                value=_component(repetition, 1),
                authority=_component(authority, 1, "&"),
                authority_oid=_component(authority, 2, "&"),
                type_code=_component(repetition, 5),
            )
        )
    return tuple(found)


def _observations(message: Any) -> tuple[dict[str, bool], bool, str]:
    """The DMP flags, whether a CDA is attached, and a study UID an OBX gives."""
    flags: dict[str, bool] = {}
    has_cda = False
    study = ""
    try:
        segments = message.segments("OBX")
    except KeyError:
        return flags, has_cda, study
    for obx in segments:
        value_type = _field(message, obx, 2).upper()
        code = _component(_field(message, obx, 3), 1)
        value = _field(message, obx, 5)
        if value_type == "ED" and "XML" in value.upper():
            has_cda = True
        elif code in DMP_FLAGS:
            flags[code] = _component(value, 1).upper() == "Y"
        elif code == STUDY_CODE and value:
            study = _component(value, 1)
    return flags, has_cda, study


def read_hl7(data: bytes, label: str = "<hl7>") -> OruMessage:
    """Read an ORU^R01; InputError when the bytes are not an HL7 v2 message with a PID."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = text.lstrip("\ufeff").replace("\r\n", "\r").replace("\n", "\r").strip("\r")
    if not text.startswith("MSH"):
        raise InputError(f"{label}: not an HL7 v2 message (it does not start with MSH)")
    try:
        message = hl7.parse(text)
    except Exception as exc:  # python-hl7 raises several types on a malformed message
        raise InputError(f"{label}: not a readable HL7 v2 message ({exc})") from None
    msh, pid = _segment(message, "MSH"), _segment(message, "PID")
    if pid is None:
        raise InputError(f"{label}: the HL7 v2 message has no PID segment")
    obr, orc, zds = (_segment(message, name) for name in ("OBR", "ORC", "ZDS"))
    name = _field(message, pid, 5).split("~")[0]
    filler = _component(_field(message, obr, 3), 1) if obr is not None else ""
    if not filler and orc is not None:
        filler = _component(_field(message, orc, 3), 1)
    accession = _component(_field(message, obr, 18), 1) if obr is not None else ""
    flags, has_cda, observed_study = _observations(message)
    study = _component(_field(message, zds, 1), 1) if zds is not None else ""
    return OruMessage(
        label=label,
        message_type=_field(message, msh, 9) if msh is not None else "",
        patient_ids=_ids(message, pid),
        family_name=_component(name, 1),
        given_name=_component(name, 2),
        accession_number=accession or filler,
        filler_order_number=filler,
        study_instance_uid=study or observed_study,
        flags=flags,
        has_cda=has_cda,
        has_order=obr is not None,
    )


__all__ = ["DMP_FLAGS", "Hl7Id", "OruMessage", "read_hl7"]
