"""The HL7 v2 report message in the cross-validation: `validate cross --hl7 FILE`."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.documents.hl7v2 import read_hl7
from drimlab.errors import InputError
from drimlab.validation.documents import validate_cross, validate_xds
from drimlab.validation.findings import Severity
from drimlab.validation.report import Verdict
from drimlab.validation.rules import CATALOGUE, load_all
from tests.documents.make_fixtures import ACCESSION, INS, STUDY
from tests.documents.make_hl7_fixtures import HERE, files

DOCUMENTS = Path(__file__).resolve().parents[1] / "fixtures" / "documents"
KOS = DOCUMENTS / "kos" / "good.dcm"
XDS = DOCUMENTS / "xds" / "good.xml"
FAULTY = sorted(HERE.glob("ORU-*.hl7"))


def test_fixture_files_match_their_builder() -> None:
    for name, data in files().items():
        assert (HERE / name).read_bytes() == data, f"{name}: run tests.documents.make_hl7_fixtures"


def test_the_oru_is_read_once_with_what_the_cross_validation_compares() -> None:
    report = read_hl7((HERE / "good.hl7").read_bytes(), "good.hl7")
    assert report.message_type.startswith("ORU^R01")
    assert report.ins == INS
    assert (report.family_name, report.given_name) == ("SYNTHETIQUE", "Patient")
    assert report.accession_number == ACCESSION
    assert report.study_instance_uid == STUDY
    assert report.flags == {"MASQUE_PS": False, "INVISIBLE_PATIENT": False}
    assert report.has_cda
    lf = (HERE / "good.hl7").read_bytes().replace(b"\r", b"\n")  # LF line ends, as files have
    assert read_hl7(lf, "lf.hl7").ins == INS


@pytest.mark.parametrize("data", [b"", b"not hl7", b"MSH|^~\\&|A|B\rOBX|1"])
def test_a_message_that_is_not_an_oru_is_refused_in_one_line(data: bytes) -> None:
    with pytest.raises(InputError):
        read_hl7(data, "bad.hl7")


@pytest.mark.parametrize(
    "name", ["good.hl7", "good-family-name-only.hl7", "good-given-name-only.hl7"]
)
def test_the_good_oru_and_its_name_variants_pass_with_the_other_documents(name: str) -> None:
    report = validate_cross(KOS, xds=XDS, hl7=HERE / name)
    assert report.verdict is Verdict.PASSED, [f.as_dict() for f in report.findings]
    assert report.findings == ()
    load_all()
    assert {r.code for r in CATALOGUE.matching("ORU")} <= set(report.rules_checked)
    assert report.facts["cross"]["hl7"] == str(HERE / name)


@pytest.mark.parametrize("path", FAULTY, ids=lambda p: p.name)
def test_each_fault_of_the_oru_is_caught_by_its_rule(path: Path) -> None:
    code = path.name[:7]
    load_all()
    assert CATALOGUE[code].name in path.stem
    report = validate_cross(KOS, xds=XDS, hl7=path)
    assert {f.rule for f in report.findings} == {code}
    (finding,) = report.findings
    assert path.name in str(finding.location)
    expected = Severity.WARNING if code == "ORU-005" else Severity.ERROR
    assert finding.severity is expected


def test_the_oru_alone_with_the_kos_is_judged_by_the_oru_rules_only() -> None:
    report = validate_cross(KOS, hl7=HERE / "ORU-001-oru-patient-mismatch.hl7")
    assert report.verdict is Verdict.FAILED
    assert {f.rule for f in report.findings} == {"ORU-001"}
    assert not any(code.startswith("XVAL") for code in report.rules_checked)
    assert "ORU-004" not in report.rules_checked  # the DMP flags need the XDS metadata


def test_a_submission_set_patient_apart_is_an_xds_error_not_a_cross_one(tmp_path: Path) -> None:
    root = etree.fromstring(XDS.read_bytes())
    for element in root.iter("{*}ExternalIdentifier"):
        if element.get("id") == "ei01":  # the SubmissionSet's patientId only
            element.set("value", "162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH")
    apart = tmp_path / "apart.xml"
    apart.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    xds = validate_xds(apart)
    assert "XDS-009" in {f.rule for f in xds.findings if f.severity is Severity.ERROR}
    cross = validate_cross(KOS, xds=apart, hl7=HERE / "good.hl7")
    assert cross.verdict is Verdict.PASSED, [f.as_dict() for f in cross.findings]


def test_cli_validate_cross_takes_hl7(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = HERE / "ORU-002-oru-accession-mismatch.hl7"
    status = run(["validate", "cross", "--kos", str(KOS), "--hl7", str(path), "-f", "json"])
    assert status == 1
    assert '"ORU-002"' in capsys.readouterr().out
