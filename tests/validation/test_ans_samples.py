"""The public ANS WADO-RS samples are passing samples: none may FAIL under drim-m."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.validation.engine import validate_exchange
from drimlab.validation.findings import Severity
from drimlab.validation.loaders import load_request, load_response
from drimlab.validation.report import Verdict

BODY_FAMILIES = ("WADO-RS-02", "WADO-RS-03", "DICOM-", "DRIM-022", "DRIM-023", "DRIM-024")


@pytest.mark.parametrize("name", ["request-series.txt", "request-instance.txt"])
def test_requests_pass_with_their_quirks_as_info(reference_dir: Path, name: str) -> None:
    report = validate_exchange(load_request(reference_dir / "wado-rs" / name), "drim-m")
    assert report.verdict is Verdict.PASSED
    by_rule = {f.rule: f.severity for f in report.findings}
    assert by_rule["WADO-RQ-013"] is Severity.INFO  # boundary=** in Accept
    assert by_rule["WADO-RQ-014"] is Severity.INFO  # trailing comma
    assert by_rule["DRIM-003"] is Severity.WARNING  # truncated bearer token
    assert "WADO-RQ-006" in report.rules_checked


def test_boundary_and_comma_are_warnings_under_dicomweb(reference_dir: Path) -> None:
    path = reference_dir / "wado-rs" / "request-series.txt"
    report = validate_exchange(load_request(path), "dicomweb")
    assert report.verdict is Verdict.PASSED
    assert {f.rule: f.severity for f in report.findings}["WADO-RQ-013"] is Severity.WARNING
    assert not any(code.startswith("DRIM") for code in report.rules_checked)


@pytest.mark.parametrize("with_request", [False, True])
def test_headers_only_response_is_undefined_for_body_rules(
    reference_dir: Path, with_request: bool
) -> None:
    folder = reference_dir / "wado-rs"
    request = load_request(folder / "request-series.txt") if with_request else None
    report = validate_exchange(load_response(folder / "response-headers.txt", request), "drim-m")
    assert report.verdict is Verdict.PASSED
    assert not [f for f in report.findings if f.severity is Severity.ERROR]
    assert not any(c.startswith(BODY_FAMILIES) for c in report.rules_checked)
    not_checked = report.facts["rules_not_checked"]
    assert "WADO-RS-021" in not_checked and "DICOM-001" in not_checked
    assert report.facts["response"]["body_captured"] is False
    assert report.parts == ()
    assert "WADO-RS-007" in report.rules_checked  # start="<...@...>" is quoted: fine
