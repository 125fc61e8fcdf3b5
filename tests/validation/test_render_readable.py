"""Reports a person can read: identical findings on many parts once, with their part ranges
(text and HTML; JSON keeps each), and the whole probe battery with the burst's figures."""

from __future__ import annotations

import json

import lxml.html

from drimlab.validation.findings import Location, Severity
from drimlab.validation.render import render
from tests.validation.test_render import finding, make_report, part

SAME = "no transfer-syntax parameter"


def _repeated() -> object:
    findings = [
        finding("WADO-RS-031", Severity.WARNING, SAME, Location(part=i, header="Content-Type"))
        for i in (*range(10), 12, 13, 20)
    ]
    findings.append(finding("DICOM-004", Severity.ERROR, "cut inside an element", Location(part=5)))
    findings.append(finding("WADO-RS-031", Severity.WARNING, "another message", Location(part=30)))
    return make_report(tuple(findings), parts=tuple(part(i) for i in range(31)))


def test_identical_findings_on_many_parts_are_shown_once_in_text() -> None:
    out = render(_repeated(), "text")  # type: ignore[arg-type]
    assert "Warnings (14)" in out  # the counts are still of findings
    assert out.count(SAME) == 1
    assert "parts 0-9, 12-13, 20 (13 parts), header Content-Type" in out
    assert "part 30" in out and "another message" in out
    assert "part 5" in out


def test_identical_findings_on_many_parts_are_one_row_in_html() -> None:
    page = lxml.html.document_fromstring(render(_repeated(), "html"))  # type: ignore[arg-type]
    rows = page.xpath("//table[@class='findings']/tbody/tr")
    assert len(rows) == 3
    locations = [r.xpath("td")[2].text_content() for r in rows]
    assert "parts 0-9, 12-13, 20 (13 parts), header Content-Type" in locations


def test_json_keeps_every_finding() -> None:
    data = json.loads(render(_repeated(), "json"))  # type: ignore[arg-type]
    assert sum(1 for f in data["findings"] if f["message"] == SAME) == 13


def _probe_report() -> object:
    rows = [
        {"probe": "unknown study", "rule": "PROBE-010", "expected": "404", "actual": "404",
         "result": "passed"},
        {"probe": "malformed UID", "rule": "PROBE-014", "expected": "400", "actual": "404",
         "result": "error"},
        {"probe": "TLS 1.1 offered", "rule": "PROBE-044", "expected": "tls-refused",
         "result": "not applicable", "why": "the source is plain HTTP"},
    ]  # fmt: skip
    burst = {
        "requests": 8,
        "concurrency": 4,
        "ok": 7,
        "busy": 1,
        "failed": 0,
        "wall_seconds": 1.5,
        "time_to_first_byte_seconds": {"p50": 0.012, "p90": 0.02, "p99": 0.03, "max": 0.031},
        "total_seconds": {"p50": 0.2, "p90": 0.3, "p99": 0.4, "max": 0.41},
    }
    return make_report(
        (finding("PROBE-014", Severity.ERROR, "malformed UID: expected 400, got 404"),),
        facts={"kind": "probe", "probes": rows, "burst": burst},
    )


def test_a_probe_report_shows_the_whole_battery_and_the_burst_in_text() -> None:
    out = render(_probe_report(), "text")  # type: ignore[arg-type]
    battery = out[out.index("Probes (3)") :]
    for needle in ("PROBE-010", "unknown study", "passed", "PROBE-014", "error"):
        assert needle in battery
    assert "not applicable (the source is plain HTTP)" in battery
    assert "8 retrievals over 4 connections in 1.50 s: 7 ok, 1 busy (503), 0 failed" in out
    assert "p50 12.0" in out and "p50 200.0" in out


def test_a_probe_report_shows_the_whole_battery_and_the_burst_in_html() -> None:
    page = lxml.html.document_fromstring(render(_probe_report(), "html"))  # type: ignore[arg-type]
    rows = page.xpath("//table[@class='probes']/tbody/tr")
    cells = [[td.text_content().strip() for td in r.xpath("td")] for r in rows]
    assert cells[0] == ["PROBE-010", "unknown study", "404", "404", "passed"]
    assert cells[1][4] == "error"
    assert cells[2][4] == "not applicable (the source is plain HTTP)"
    burst = page.xpath("//table[contains(@class, 'burst')]")[0].text_content()
    assert "7 ok, 1 busy (503), 0 failed" in burst and "p50 12.0" in burst
