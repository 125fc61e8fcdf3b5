"""A report stays bounded whatever the response: parts past the cap are counted, a rule lists at
most `FINDINGS_PER_RULE` findings per severity and counts the rest, and every format says so."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from drimlab.cli import run
from drimlab.limits import FINDINGS_PER_RULE, PARTS
from drimlab.validation.engine import validate_response
from drimlab.validation.loaders import load_request, load_response
from drimlab.validation.render import render
from drimlab.validation.render.json import schema
from drimlab.validation.report import Report, Verdict
from tests.validation.build_fixtures import FIXTURES
from tests.validation.builder import multipart, part_headers, response

ONE_BYTE_PARTS = 100_000


@pytest.fixture(scope="module")
def many_parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reproduction of the issue: a response of 100,000 one-byte parts."""
    body = multipart((part_headers(), b"x") for _ in range(ONE_BYTE_PARTS))
    path = tmp_path_factory.mktemp("caps") / "many-parts.resp"
    path.write_bytes(response(body))
    return path


@pytest.fixture(scope="module")
def report(many_parts: Path) -> Report:
    request = load_request(FIXTURES / "_request.req")
    return validate_response(load_response(many_parts, request), "drim-m")


def test_parts_past_the_cap_are_counted_not_judged(report: Report) -> None:
    assert len(report.parts) == PARTS
    (warning,) = [f for f in report.findings if f.rule == "WADO-RS-037"]
    assert warning.actual == f"{ONE_BYTE_PARTS} parts"
    assert f"{ONE_BYTE_PARTS - PARTS} parts after the first {PARTS}" in warning.message


def test_a_rule_lists_at_most_its_cap_and_counts_the_rest(report: Report) -> None:
    per_rule: dict[str, int] = {}
    for finding in report.findings:
        per_rule[finding.rule] = per_rule.get(finding.rule, 0) + 1
    assert max(per_rule.values()) <= FINDINGS_PER_RULE * 3  # three severities at most
    assert report.omitted, "one-byte parts are not DICOM: rules fire on every judged part"
    for omitted in report.omitted:
        listed = [
            f for f in report.findings if (f.rule, f.severity) == (omitted.rule, omitted.severity)
        ]
        assert len(listed) == FINDINGS_PER_RULE
        assert omitted.count == PARTS - FINDINGS_PER_RULE
    counted = report.counters
    assert counted["omitted"] == sum(o.count for o in report.omitted)
    assert counted["error"] == sum(1 for f in report.findings if f.severity.value == "error") + sum(
        o.count for o in report.omitted if o.severity.value == "error"
    )
    assert report.verdict is Verdict.FAILED
    assert len(report.findings) < 2_000  # it printed 200,001 findings


def test_the_json_report_follows_its_schema_and_round_trips(report: Report) -> None:
    data = json.loads(render(report, "json"))
    jsonschema.validate(data, schema())
    assert data["findings_omitted"]
    again = Report.from_dict(data)
    assert again.omitted == report.omitted
    assert again.counters == report.counters


@pytest.mark.parametrize("fmt", ["text", "html", "junit", "gazelle-json", "gazelle-xml"])
def test_every_format_says_what_is_not_listed(report: Report, fmt: str) -> None:
    text = render(report, fmt)
    omitted = report.omitted[0]
    assert f"{omitted.count} more" in text or f"{omitted.count} autres" in text
    if fmt == "html":
        assert "non listés" in text and "not listed" in text


def test_the_cli_prints_a_bounded_report(
    many_parts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(
        [
            "--home",
            str(tmp_path / "home"),
            "validate",
            "response",
            str(many_parts),
            "--request",
            str(FIXTURES / "_request.req"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "Not listed (" in out
    assert len(out.splitlines()) < 20_000
