"""Patient safety: a part of another patient, a misplaced instance, a File Meta that is not its
data set are errors, and each finding shows both identities side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.documents.identity import PatientId, PatientIdentity
from drimlab.documents.kos import read_kos
from drimlab.validation.engine import validate_response
from drimlab.validation.findings import Finding, Severity
from drimlab.validation.loaders import load_request, load_response
from drimlab.validation.report import Report, Verdict
from tests.validation.build_fixtures import (
    FIXTURES,
    local_id_and_ins,
    other_patient,
)
from tests.validation.builder import (
    INSTANCES,
    OTHER_SERIES,
    instance,
    multipart,
    part10,
    part_headers,
    response,
)

KOS = FIXTURES / "_kos.dcm"


def _validate(tmp_path: Path, *datas: bytes, kos: bool, profile: str = "drim-m") -> Report:
    path = tmp_path / "response.resp"
    path.write_bytes(response(multipart((part_headers(), d) for d in datas)))
    exchange = load_response(path, load_request(FIXTURES / "_request.req"))
    return validate_response(exchange, profile, kos=read_kos(KOS) if kos else None)


def _errors(report: Report, rule: str) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule and f.severity is Severity.ERROR]


@pytest.mark.parametrize("profile", ["drim-m", "dicomweb"])
def test_a_response_with_an_instance_of_another_patient_fails(tmp_path: Path, profile: str) -> None:
    first, stranger = part10(instance(INSTANCES[0])), part10(other_patient(INSTANCES[1]))
    report = _validate(tmp_path, first, stranger, kos=False, profile=profile)
    assert report.verdict is Verdict.FAILED
    (finding,) = _errors(report, "DICOM-010")
    assert finding.location.part == 1
    assert "248012345678901" in (finding.expected or "")  # the first part's patient
    assert "190017512345678" in (finding.actual or "")  # the stranger, side by side
    assert "AUTRE^PATIENT" in (finding.actual or "")


def test_with_the_kos_the_other_patient_is_named_against_the_kos(tmp_path: Path) -> None:
    first, stranger = part10(instance(INSTANCES[0])), part10(other_patient(INSTANCES[1]))
    report = _validate(tmp_path, first, stranger, kos=True)
    assert report.verdict is Verdict.FAILED
    (finding,) = _errors(report, "DRIM-025")
    assert "belongs to another patient" in finding.message
    assert (finding.expected or "").startswith("KOS: patient: PatientID 248012345678901")
    assert (finding.actual or "").startswith("part: patient: PatientID 190017512345678")
    assert f"instance {INSTANCES[1]}" in (finding.actual or "")


def test_the_ins_in_other_patient_ids_matches_the_kos(tmp_path: Path) -> None:
    parts = [part10(local_id_and_ins(uid)) for uid in INSTANCES]
    report = _validate(tmp_path, *parts, kos=True)
    assert report.verdict is Verdict.PASSED, [f.as_dict() for f in report.findings]
    assert {"DRIM-025", "DICOM-010"} <= set(report.rules_checked)


def test_a_part_without_any_identifier_of_the_kos_patient_fails(tmp_path: Path) -> None:
    parts = []
    for uid in INSTANCES:
        ds = local_id_and_ins(uid)
        del ds.OtherPatientIDsSequence  # the source dropped the INS
        parts.append(part10(ds))
    report = _validate(tmp_path, *parts, kos=True)
    assert report.verdict is Verdict.FAILED
    assert all("no identifier of that patient" in f.message for f in _errors(report, "DRIM-025"))
    assert len(_errors(report, "DRIM-025")) == 2


def test_an_instance_in_another_series_than_the_kos_says_fails(tmp_path: Path) -> None:
    moved = part10(instance(INSTANCES[1], series=OTHER_SERIES))
    report = _validate(tmp_path, part10(instance(INSTANCES[0])), moved, kos=True)
    (finding,) = _errors(report, "DRIM-026")
    assert OTHER_SERIES in (finding.actual or "")
    # the request asked for the series too: WADO-RS-035 shows the identities the same way
    (outside,) = _errors(report, "WADO-RS-035")
    assert (outside.expected or "").startswith("request: ")
    assert OTHER_SERIES in (outside.actual or "")


def test_a_file_meta_sop_mismatch_fails_with_both_identities(tmp_path: Path) -> None:
    first = part10(instance(INSTANCES[0]))
    swapped = first.replace(INSTANCES[0].encode(), INSTANCES[1].encode(), 1)  # the File Meta
    report = _validate(tmp_path, swapped, part10(instance(INSTANCES[1])), kos=False)
    assert report.verdict is Verdict.FAILED
    (finding,) = _errors(report, "DICOM-003")
    assert finding.expected == (
        f"data set: SOP class 1.2.840.10008.5.1.4.1.1.2 | instance {INSTANCES[0]}"
    )
    assert finding.actual == (
        f"File Meta: SOP class 1.2.840.10008.5.1.4.1.1.2 | instance {INSTANCES[1]}"
    )


def test_identities_compare_by_issuer() -> None:
    ins = PatientIdentity(PatientId("248012345678901", "ASIP-SANTE-INS-NIR"))
    by_oid = PatientIdentity(
        PatientId("IPP-1", "CH"), (PatientId("248012345678901", "", "1.2.250.1.213.1.4.10"),)
    )
    other = PatientIdentity(PatientId("190017512345678", "ASIP-SANTE-INS-NIR"))
    local = PatientIdentity(PatientId("IPP-1", "CH"))
    assert by_oid.ins == "248012345678901"
    assert ins.shares_an_id_with(by_oid) and not ins.conflicts_with(by_oid)
    assert ins.conflicts_with(other) and not ins.shares_an_id_with(other)
    assert not ins.conflicts_with(local) and not ins.shares_an_id_with(local)
