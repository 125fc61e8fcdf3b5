"""The JSON report: it follows the shipped JSON Schema, round-trips, and the doc covers it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings

from drimlab.validation.render import render
from drimlab.validation.render.json import as_dict, schema
from drimlab.validation.report import Report
from tests.validation.test_render import EXAMPLES, big_report, failed_report, reports

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-json.md"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    shipped = schema()
    cls = jsonschema.validators.validator_for(shipped)
    cls.check_schema(shipped)
    return cls(shipped, format_checker=cls.FORMAT_CHECKER)


def _errors(validator: jsonschema.protocols.Validator, data: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(data)]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_follow_the_schema(validator: jsonschema.protocols.Validator, name: str) -> None:
    assert _errors(validator, json.loads(render(EXAMPLES[name](), "json"))) == []


def test_a_big_report_follows_the_schema(validator: jsonschema.protocols.Validator) -> None:
    assert _errors(validator, json.loads(render(big_report(), "json"))) == []


@settings(max_examples=60, deadline=None)
@given(report=reports())
def test_random_reports_follow_the_schema(report: Report) -> None:
    shipped = schema()
    cls = jsonschema.validators.validator_for(shipped)
    assert list(cls(shipped).iter_errors(json.loads(render(report, "json")))) == []


def test_the_schema_rejects_what_it_should(validator: jsonschema.protocols.Validator) -> None:
    good = json.loads(render(failed_report(), "json"))
    lying = {**good, "verdict": "PASSED"}
    assert _errors(validator, lying)
    unknown = {**good, "score": 3}
    assert _errors(validator, unknown)
    bad_severity = json.loads(json.dumps(good))
    bad_severity["findings"][0]["severity"] = "fatal"
    assert _errors(validator, bad_severity)
    bad_code = json.loads(json.dumps(good))
    bad_code["rules_checked"].append("wado-1")
    assert _errors(validator, bad_code)
    no_counters = {k: v for k, v in good.items() if k != "counters"}
    assert _errors(validator, no_counters)


def test_json_round_trips_to_the_same_report() -> None:
    report = failed_report()
    data = json.loads(render(report, "json"))
    assert data.pop("schema") == "drimlab-report/1"
    assert Report.from_dict(data) == report
    assert as_dict(report)["counters"] == {
        "error": 2,
        "warning": 1,
        "info": 1,
        "rules_checked": 3,
        "parts": 2,
    }


def test_json_keeps_non_ascii_readable() -> None:
    out = render(EXAMPLES["non-ascii"](), "json")
    assert "Éloïse" in out
    assert "患者" in out


def test_values_json_cannot_hold_become_strings() -> None:
    report = failed_report()
    odd = Report.from_dict({**report.as_dict(), "facts": {"path": Path("/tmp/x")}})
    assert json.loads(render(odd, "json"))["facts"] == {"path": "/tmp/x"}


def _properties(node: dict[str, Any]) -> set[str]:
    return set(node.get("properties", {}))


def test_the_doc_names_every_field_of_the_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    shipped = schema()
    names = _properties(shipped)
    for definition in shipped["$defs"].values():
        names |= _properties(definition)
        for sub in definition.get("properties", {}).values():
            names |= _properties(sub)
    missing = sorted(n for n in names if not re.search(rf"`{re.escape(n)}`", text))
    assert missing == []
