"""The JUnit report: one test case per rule, read back by a real JUnit consumer."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hypothesis import given, settings
from junitparser import JUnitXml

from drimlab.validation.findings import Severity
from drimlab.validation.render import render
from drimlab.validation.report import Report
from drimlab.validation.rules import Catalogue, Rule, RuleDoc
from tests.validation.test_render import (
    EXAMPLES,
    big_report,
    failed_report,
    passed_report,
    reports,
    undefined_report,
)


def _cases(report: Report, **kwargs: object) -> dict[str, ET.Element]:
    root = ET.fromstring(render(report, "junit", **kwargs))  # type: ignore[arg-type]
    return {c.get("name", "").split()[0]: c for c in root.iter("testcase")}


def test_structure_and_totals() -> None:
    root = ET.fromstring(render(failed_report(), "junit"))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "drimlab drim-m: responses/series-ct.http"
    for element in (root, suite):
        assert element.get("tests") == "4"
        assert element.get("failures") == "2"
        assert element.get("errors") == "0"
        assert element.get("skipped") == "0"
        assert element.get("time") == "1.250"
    assert suite.get("timestamp") == "2026-11-03T09:30:00"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "FAILED"
    assert props["warnings"] == "1"


def test_one_case_per_rule_checked_plus_unchecked_errors() -> None:
    cases = _cases(failed_report())
    assert sorted(cases) == ["TLS-002", "WADO-RQ-003", "WADO-RS-001", "WADO-RS-004"]
    failure = cases["WADO-RS-004"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("part transfer-syntax disagrees")
    assert "expected: 1.2.840.10008.1.2.4.70" in (failure.text or "")
    assert cases["WADO-RS-004"].get("classname") == "drimlab.drim-m.WADO-RS"
    # an error emitted by a component, from a rule that did not run, is not lost
    assert cases["TLS-002"].find("failure") is not None
    warning = cases["WADO-RQ-003"]
    assert warning.find("failure") is None
    assert "boundary parameter" in (warning.findtext("system-out") or "")
    assert "connection close" in (cases["WADO-RS-001"].findtext("system-out") or "")


def test_unchecked_rule_with_only_a_warning_is_skipped() -> None:
    report = passed_report()
    report = Report.from_dict({**report.as_dict(), "rules_checked": []})
    case = _cases(report)["WADO-RQ-003"]
    assert case.find("skipped") is not None
    assert case.find("failure") is None


def test_undefined_report_is_one_skipped_case() -> None:
    root = ET.fromstring(render(undefined_report(), "junit"))
    (case,) = root.iter("testcase")
    assert case.get("name") == "report"
    skipped = case.find("skipped")
    assert skipped is not None
    assert "UNDEFINED" in skipped.get("message", "")
    assert root.get("tests") == "1"
    assert root.get("skipped") == "1"


def test_catalogue_names_the_cases() -> None:
    catalogue = Catalogue()
    catalogue.register(
        Rule(
            "WADO-RS-004",
            "part-transfer-syntax-mismatch",
            Severity.ERROR,
            "s",
            RuleDoc("w", "y", "b", "g"),
            ("r",),
            "part",
            lambda subject: iter(()),
        )
    )
    names = [c.get("name") for c in _cases(failed_report(), catalogue=catalogue).values()]
    assert "WADO-RS-004 part-transfer-syntax-mismatch" in names


def test_a_real_consumer_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_text(render(failed_report(), "junit"), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (4, 2, 0, 0)
    (suite,) = list(xml)
    outcome = {case.name: case.is_passed for case in suite}
    assert outcome == {
        "TLS-002": False,
        "WADO-RQ-003": True,
        "WADO-RS-001": True,
        "WADO-RS-004": False,
    }
    props = {p.name: p.value for p in suite.properties()}
    assert props["subject"] == "responses/series-ct.http"


def test_a_real_consumer_reads_hostile_and_big_reports() -> None:
    for report in (EXAMPLES["hostile"](), EXAMPLES["non-ascii"](), big_report()):
        xml = JUnitXml.fromstring(render(report, "junit").encode("utf-8"))
        assert xml.tests == len({*report.rules_checked, *(f.rule for f in report.findings)})


@settings(max_examples=40, deadline=None)
@given(report=reports())
def test_random_reports_are_valid_junit(report: Report) -> None:
    xml = JUnitXml.fromstring(render(report, "junit").encode("utf-8"))
    rules = {*report.rules_checked, *(f.rule for f in report.findings)}
    failing = {f.rule for f in report.findings if f.severity is Severity.ERROR}
    assert xml.failures == len(failing)
    assert xml.tests == (len(rules) or (1 if not report.checked_anything else 0))
