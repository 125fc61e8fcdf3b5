"""Write `tests/fixtures/hl7/`: the ORU^R01 of the document fixtures' exam, and one faulty twin
per ORU rule (`python -m tests.documents.make_hl7_fixtures`).

`good.hl7` announces the exam of `tests/fixtures/documents/kos/good.dcm` as the CI-SIS
transmission of a CDA report does; each `ORU-NNN-<name>.hl7` changes one fact of it. The
name variants of the ANS dry run (family only, given only) are good twins too.
"""

from __future__ import annotations

from pathlib import Path

from tests.documents.make_fixtures import ACCESSION, INS, OTHER_INS, STUDY

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
INS_AUTHORITY = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO"


def oru(
    *,
    ins: str = INS,
    name: str = "SYNTHETIQUE^Patient^^^^^L",
    accession: str = ACCESSION,
    study: str = STUDY,
    masque_ps: str = "N",
    cut: int | None = None,
) -> bytes:
    """An ORU^R01 carrying a CDA report of the fixture exam (CR lines, as HL7 v2 sends it)."""
    segments = [
        "MSH|^~\\&|RIS_TEST|CH_TEST|GESTIONNAIRE|PFI_TEST|20260101120500||ORU^R01^ORU_R01|"
        "MSG0001|P|2.5||||||UNICODE UTF-8",
        f"PID|||{ins}^^^{INS_AUTHORITY}^INS~IPP-0042^^^CH-TEST&1.2.250.1.999.1&ISO^PI||{name}"
        "||19700101|F",
        "PV1||O",
        "ORC|NW",
        f"OBR|1||{accession}^CH_TEST|18748-4^CR d'imagerie medicale^LN|||20260101120000"
        f"|||||||||||{accession}",
        "OBX|1|ED|18748-4^CR d'imagerie medicale^LN||^TEXT^XML^Base64^PENsaW5pY2FsRG9jdW1lbnQvPg=="
        "||||||F",
        f"OBX|2|CE|MASQUE_PS^Masque aux professionnels de Sante^MetaDMPMSS||{masque_ps}"
        "^^expandedYes-NoIndicator||||||F",
        "OBX|3|CE|INVISIBLE_PATIENT^Document Non Visible par le patient^MetaDMPMSS||N"
        "^^expandedYes-NoIndicator||||||F",
        f"ZDS|{study}^^Application^DICOM",
    ]
    return ("\r".join(segments[:cut]) + "\r").encode("utf-8")


def files() -> dict[str, bytes]:
    return {
        "good.hl7": oru(),
        "good-family-name-only.hl7": oru(name="SYNTHETIQUE^^^^^^L"),
        "good-given-name-only.hl7": oru(name="^Patient"),
        "ORU-001-oru-patient-mismatch.hl7": oru(ins=OTHER_INS),
        "ORU-002-oru-accession-mismatch.hl7": oru(accession="ACC999"),
        "ORU-003-oru-study-uid-mismatch.hl7": oru(study=f"{STUDY}.9"),
        "ORU-004-oru-confidentiality-mismatch.hl7": oru(masque_ps="Y"),
        "ORU-005-oru-patient-name-mismatch.hl7": oru(name="DUPONT^Patient^^^^^L"),
        "ORU-006-oru-structure.hl7": oru(cut=5),
    }


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(files())} HL7 v2 fixtures to {HERE}")


if __name__ == "__main__":
    main()
