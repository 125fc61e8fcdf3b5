"""The request forms of the ANS dry run: at most warnings in drim-m, PS3.18 strictness in dicomweb.

Each form has a good fixture (the form the ANS labels OK) and a bad twin (a real fault); the
expected verdicts and findings of both profiles are in `tests/fixtures/ans-forms/expected.json`.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from drimlab.validation.engine import validate_exchange
from drimlab.validation.findings import Severity
from drimlab.validation.loaders import load_request
from drimlab.validation.report import Verdict
from tests.validation.build_ans_forms import FORMS, PROFILES, files, forms, outcome

EXPECTED = json.loads((FORMS / "expected.json").read_text())
NAMES = sorted(files())


def test_fixture_files_match_their_builder() -> None:
    for name, data in files().items():
        assert (FORMS / name).read_bytes() == data, f"{name}: run tests.validation.build_ans_forms"
    assert sorted(EXPECTED) == NAMES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("profile", PROFILES)
def test_each_form_gets_its_expected_findings(name: str, profile: str) -> None:
    assert outcome(FORMS / name, profile) == EXPECTED[name][profile]


@pytest.mark.parametrize("form", sorted(forms()))
def test_good_forms_pass_drim_m_with_at_most_warnings(form: str) -> None:
    report = validate_exchange(load_request(FORMS / f"{form}-good.http"), "drim-m")
    assert report.verdict is Verdict.PASSED
    assert all(f.severity is not Severity.ERROR for f in report.findings)


@pytest.mark.parametrize("form", sorted(forms()))
def test_bad_twins_fail_drim_m(form: str) -> None:
    report = validate_exchange(load_request(FORMS / f"{form}-bad.http"), "drim-m")
    assert report.verdict is Verdict.FAILED


@pytest.mark.parametrize(
    ("form", "rule"),
    [("accept-bare-parameters", "WADO-RQ-018"), ("frames-as-dicom", "WADO-RQ-019")],
)
def test_forms_ps3_18_does_not_define_fail_dicomweb_naming_the_deviation(
    form: str, rule: str
) -> None:
    strict = validate_exchange(load_request(FORMS / f"{form}-good.http"), "dicomweb")
    assert strict.verdict is Verdict.FAILED
    assert {f.rule for f in strict.findings if f.severity is Severity.ERROR} == {rule}
    lenient = validate_exchange(load_request(FORMS / f"{form}-good.http"), "drim-m")
    assert {f.rule: f.severity for f in lenient.findings}[rule] is Severity.WARNING


def test_a_bare_range_is_judged_as_the_dicom_range_it_stands_for() -> None:
    report = validate_exchange(load_request(FORMS / "accept-bare-parameters-good.http"), "drim-m")
    finding = next(f for f in report.findings if f.rule == "WADO-RQ-018")
    assert finding.expected == (
        'multipart/related; type="application/dicom"; '
        "transfer-syntax=1.2.840.10008.1.2.4.50; q=0.9; boundary=myboundary"
    )
    assert "WADO-RQ-009" in report.rules_checked  # its transfer syntax is still checked


def test_an_expired_token_is_judged_at_the_capture_time_not_now() -> None:
    good = load_request(FORMS / "jwt-expired-at-capture-good.http")
    # Without its Date header the capture has no time: expired now is only an info.
    headers = tuple(h for h in good.request_headers if h[0] != "Date")
    undated = replace(good, request_headers=headers)
    findings = validate_exchange(undated, "drim-m").findings
    assert [(f.rule, f.severity) for f in findings] == [("DRIM-004", Severity.INFO)]
    captured = replace(undated, timings={"started_at": 1764583200.0})
    assert validate_exchange(captured, "drim-m").verdict is Verdict.PASSED
