"""The public ANS samples: no FAILED verdict for something they do right; every finding known.

docs/documents.md explains each finding asserted here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from drimlab.dciodvfy import checker
from drimlab.validation.documents import validate_cross, validate_kos, validate_xds
from drimlab.validation.findings import Severity
from drimlab.validation.report import Report, Verdict


def _tally(report: Report) -> Counter[tuple[str, str]]:
    return Counter((f.rule, f.severity.value) for f in report.findings)


@pytest.mark.parametrize(("name", "series"), [("ans-example-ko.dcm", 2), ("xdm-KOS_1_1.dcm", 1)])
def test_ans_kos_samples_pass_with_explained_findings(
    reference_dir: Path, name: str, series: int
) -> None:
    report = validate_kos(reference_dir / "kos" / name, checker=checker())
    assert report.verdict is Verdict.PASSED
    assert _tally(report) == Counter(
        {
            # StudyID empty (DICOMDIR), PatientName and OtherPatientNames without '^'.
            ("KOS-002", "warning"): 3,
            # dicom3tools does not know Retrieve URL in the series reference: info only.
            ("KOS-002", "info"): series,
            # http://localhost:4200 Retrieve URLs: DRIM-M exchanges are TLS.
            ("KOS-013", "warning"): series,
        }
    )
    assert "KOS-001" in report.rules_checked


def test_ans_xds_sample_fails_only_for_its_own_defects(reference_dir: Path) -> None:
    report = validate_xds(reference_dir / "cross-validation" / "XDS.xml")
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    # Two real defects of the sample (see docs/documents.md): the KOS entry's patientId is
    # not the SubmissionSet's, and the id "cla13" is used twice.
    assert sorted(f.rule for f in errors) == ["XDS-009", "XDS-014"]
    assert "274075176079430" in (errors[0].actual or "") + (errors[1].actual or "") or any(
        "cla13" in f.message for f in errors
    )
    # serviceStartTime / serviceStopTime carry a +0100 offset.
    assert _tally(report)[("XDS-013", "warning")] == 2
    for code in ("XDS-004", "XDS-005", "XDS-006", "XDS-007", "XDS-008", "XDS-010"):
        assert code in report.rules_checked
        assert not [f for f in report.findings if f.rule == code]


def test_ans_kos_and_xds_samples_disagree_as_documented(reference_dir: Path) -> None:
    report = validate_cross(
        reference_dir / "kos" / "ans-example-ko.dcm",
        xds=reference_dir / "cross-validation" / "XDS.xml",
    )
    assert report.verdict is Verdict.FAILED
    assert sorted({f.rule for f in report.findings}) == [
        "XVAL-001",
        "XVAL-002",
        "XVAL-003",
        "XVAL-004",
        "XVAL-005",
        "XVAL-006",
    ]
    for finding in report.findings:
        assert "ans-example-ko.dcm vs " in (finding.location.path or "")
        assert "XDS.xml" in (finding.location.path or "")
