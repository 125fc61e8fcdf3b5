"""The Gazelle forms: the validation-report JSON model and the legacy detailedResult XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from drimlab.validation.findings import Severity
from drimlab.validation.render import render
from drimlab.validation.render.gazelle import SEVERITY_MAP
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

DOC = Path(__file__).resolve().parents[2] / "docs" / "gazelle.md"
RESULTS = {"PASSED", "FAILED", "UNDEFINED"}
COUNTER_KEYS = {
    "numberOfAssertions",
    "numberOfFailedWithInfos",
    "numberOfFailedWithWarnings",
    "numberOfFailedWithErrors",
    "numberOfUnexpectedErrors",
}


def _json(report: Report, **kwargs: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render(report, "gazelle-json", **kwargs))
    return data


def check_gazelle_json(data: dict[str, Any], report: Report) -> None:
    """The structural invariants of the Gazelle validation report model."""
    assert data["modelVersion"] == "0.1"
    assert re.fullmatch(r"[0-9a-f-]{36}", data["uuid"])
    assert data["disclaimer"].strip()
    assert data["overallResult"] == report.verdict.value
    method = data["validationMethod"]
    assert {k for k, v in method.items() if isinstance(v, str) and v} == {
        "validationServiceName",
        "validationServiceVersion",
        "validationProfileID",
        "validationProfileVersion",
    }
    subs = data.get("reports", [])
    assert "reports" not in data or subs, "reports is absent or non-empty"
    totals = dict.fromkeys(COUNTER_KEYS, 0)
    for sub in subs:
        assert sub["name"]
        assert sub["subReportResult"] in RESULTS
        assertions = sub["assertionReports"]
        assert assertions
        counters = sub["subCounters"]
        assert set(counters) == COUNTER_KEYS
        assert counters["numberOfAssertions"] == len(assertions)
        failed = [a for a in assertions if a["result"] == "FAILED"]
        for key, severity in (
            ("numberOfFailedWithErrors", "ERROR"),
            ("numberOfFailedWithWarnings", "WARNING"),
            ("numberOfFailedWithInfos", "INFO"),
        ):
            assert counters[key] == sum(1 for a in failed if a["severity"] == severity)
        for a in assertions:
            assert a["assertionID"].startswith(sub["name"] + "-")
            assert a["severity"] in {"ERROR", "WARNING", "INFO"}
            assert a["priority"] in {"MANDATORY", "RECOMMENDED", "PERMITTED"}
            assert a["result"] in {"PASSED", "FAILED"}
            assert a["description"].strip()
            assert "subjectValue" not in a or a["subjectValue"].strip()
        has_error = any(a["severity"] == "ERROR" for a in failed)
        assert sub["subReportResult"] == ("FAILED" if has_error else "PASSED")
        for key in COUNTER_KEYS:
            totals[key] += counters[key]
    assert data["counters"] == totals
    assert totals["numberOfFailedWithErrors"] == report.counters["error"]
    assert totals["numberOfFailedWithWarnings"] == report.counters["warning"]
    assert totals["numberOfFailedWithInfos"] == report.counters["info"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_follow_the_model(name: str) -> None:
    report = EXAMPLES[name]()
    check_gazelle_json(_json(report), report)


def test_one_sub_report_per_family_and_the_severity_mapping() -> None:
    data = _json(failed_report())
    subs = {s["name"]: s for s in data["reports"]}
    assert list(subs) == ["TLS", "WADO-RQ", "WADO-RS"]
    assert subs["TLS"]["subReportResult"] == "FAILED"
    assert subs["WADO-RQ"]["subReportResult"] == "PASSED"
    rs = {(a["assertionID"], a["result"]): a for a in subs["WADO-RS"]["assertionReports"]}
    error = rs["WADO-RS-004", "FAILED"]
    assert (error["severity"], error["priority"]) == ("ERROR", "MANDATORY")
    assert error["subjectLocation"] == "part 1, (0002,0010)"
    assert error["subjectValue"] == "1.2.840.10008.1.2.1"
    assert error["requirementIDs"] == ["PS3.18 §8.7.3.5.2"]
    assert "expected: 1.2.840.10008.1.2.4.70" in error["description"]
    info = rs["WADO-RS-001", "FAILED"]
    assert (info["severity"], info["priority"]) == ("INFO", "PERMITTED")
    warning = subs["WADO-RQ"]["assertionReports"][0]
    assert (warning["severity"], warning["priority"]) == ("WARNING", "RECOMMENDED")
    assert SEVERITY_MAP[Severity.WARNING] == ("WARNING", "RECOMMENDED")
    assert data["overallResult"] == "FAILED"
    meta = {m["name"]: m["value"] for m in data["additionalMetadata"]}
    assert meta["subject"] == "responses/series-ct.http"
    assert meta["part[1]"].startswith("1.2.826.0.1.3680043.8.498.2 sha256=")


def test_a_rule_that_passed_is_a_passed_assertion() -> None:
    catalogue = Catalogue()
    catalogue.register(
        Rule(
            "WADO-RS-004",
            "part-transfer-syntax-mismatch",
            Severity.ERROR,
            "The part transfer syntax matches the File Meta.",
            RuleDoc("w", "y", "b", "g"),
            ("r",),
            "part",
            lambda subject: iter(()),
        )
    )
    data = _json(passed_report(), catalogue=catalogue)
    passed = [a for s in data["reports"] for a in s["assertionReports"] if a["result"] == "PASSED"]
    assert {a["assertionID"] for a in passed} == {"WADO-RS-001", "WADO-RS-004"}
    described = next(a for a in passed if a["assertionID"] == "WADO-RS-004")
    assert described["description"].startswith("The part transfer syntax matches")
    assert (described["severity"], described["priority"]) == ("INFO", "MANDATORY")
    assert data["overallResult"] == "PASSED"


def test_undefined_report_has_no_sub_report() -> None:
    data = _json(undefined_report())
    assert data["overallResult"] == "UNDEFINED"
    assert "reports" not in data
    assert data["counters"]["numberOfAssertions"] == 0


def test_uuid_is_stable_per_report_and_differs_between_reports() -> None:
    assert _json(failed_report())["uuid"] == _json(failed_report())["uuid"]
    assert _json(failed_report())["uuid"] != _json(passed_report())["uuid"]


@settings(max_examples=40, deadline=None)
@given(report=reports())
def test_random_reports_follow_the_model(report: Report) -> None:
    check_gazelle_json(_json(report), report)
    check_detailed_result(ET.fromstring(render(report, "gazelle-xml")), report)


# --- legacy detailedResult XML -----------------------------------------------------------

NOTIFICATION_CHILDREN = ["Test", "Location", "Description", "Identifiant"]


def check_detailed_result(root: ET.Element, report: Report) -> None:
    """The element names and counts docs/gazelle.md documents."""
    assert root.tag == "detailedResult"
    assert [c.tag for c in root] == [
        "ValidationResultsOverview",
        "ValidationCounters",
        "MDAValidation",
    ]
    overview = root.find("ValidationResultsOverview")
    assert overview is not None
    assert [c.tag for c in overview] == [
        "ValidationDate",
        "ValidationTime",
        "ValidationServiceName",
        "ValidationServiceVersion",
        "ValidationTestResult",
    ]
    assert overview.findtext("ValidationTestResult") == report.verdict.value
    assert re.fullmatch(r"\d{4}, \d{2} \d{2}", overview.findtext("ValidationDate") or "")
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", overview.findtext("ValidationTime") or "")
    mda = root.find("MDAValidation")
    assert mda is not None
    assert mda.findtext("Result") == report.verdict.value
    kinds = [c.tag for c in mda][1:]
    order = {"Error": 0, "Warning": 1, "Info": 2, "Note": 3}
    assert kinds == sorted(kinds, key=order.__getitem__)
    for notification in list(mda)[1:]:
        assert [c.tag for c in notification] == NOTIFICATION_CHILDREN
    counters = {c.tag: int(c.text or "") for c in root.find("ValidationCounters") or []}
    assert counters == {
        "NrOfChecks": len(kinds),
        "NrOfValidationErrors": kinds.count("Error"),
        "NrOfValidationWarnings": kinds.count("Warning"),
        "NrOfValidationInfos": kinds.count("Info"),
        "NrOfValidationNotes": kinds.count("Note"),
    }
    assert counters["NrOfValidationErrors"] == report.counters["error"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_detailed_result_examples(name: str) -> None:
    report = EXAMPLES[name]()
    check_detailed_result(ET.fromstring(render(report, "gazelle-xml")), report)


def test_detailed_result_content() -> None:
    root = ET.fromstring(render(failed_report(), "gazelle-xml"))
    overview = root.find("ValidationResultsOverview")
    assert overview is not None
    assert overview.findtext("ValidationDate") == "2026, 11 03"
    assert overview.findtext("ValidationTime") == "09:30:01"
    assert overview.findtext("ValidationServiceName") == "drimlab (drim-m)"
    error = root.find("MDAValidation/Error")
    assert error is not None
    assert error.findtext("Test") == "WADO-RS-004"
    assert error.findtext("Identifiant") == "WADO-RS-004"
    assert error.findtext("Location") == "part 1, (0002,0010)"
    assert (error.findtext("Description") or "").startswith("part transfer-syntax disagrees")
    notes = [n.findtext("Test") for n in root.iter("Note")]
    assert notes == []  # every rule of this report has a finding
    passed = ET.fromstring(render(passed_report(), "gazelle-xml"))
    assert [n.findtext("Test") for n in passed.iter("Note")] == ["WADO-RS-001", "WADO-RS-004"]


def test_detailed_result_is_well_formed_with_hostile_and_big_input() -> None:
    hostile = ET.fromstring(render(EXAMPLES["hostile"](), "gazelle-xml"))
    description = hostile.findtext("MDAValidation/Error/Description") or ""
    assert description.startswith('<script>alert("x")</script>&\\x1b[2J\\x00')
    big = big_report()
    root = ET.fromstring(render(big, "gazelle-xml"))
    check_detailed_result(root, big)


def test_the_doc_names_every_element_and_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    report = failed_report()
    xml_names = {e.tag for e in ET.fromstring(render(report, "gazelle-xml")).iter()}
    xml_names |= {e.tag for e in ET.fromstring(render(passed_report(), "gazelle-xml")).iter()}
    json_names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            json_names.update(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_json(report))
    walk(_json(passed_report()))
    missing = sorted(n for n in xml_names | json_names if f"`{n}`" not in text)
    assert missing == []
