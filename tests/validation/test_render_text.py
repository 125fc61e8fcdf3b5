"""The text report: verdict line, counters, findings by severity, parts, safe colours."""

from __future__ import annotations

import re

from drimlab.validation.render import render
from tests.validation.test_render import (
    EXAMPLES,
    HOSTILE,
    failed_report,
    finding,
    make_report,
    passed_report,
    undefined_report,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_verdict_line_and_counters() -> None:
    lines = render(failed_report(), "text").splitlines()
    assert lines[0].startswith("FAILED  responses/series-ct.http")
    assert "profile drim-m; validator drimlab 0.1.0" in lines[1]
    assert "(1.250 s)" in lines[1]
    assert lines[2] == "2 errors, 1 warning, 1 info, 3 rules checked, 2 parts"


def test_findings_are_grouped_by_severity_with_details() -> None:
    out = render(failed_report(), "text")
    assert out.index("Errors (2)") < out.index("Warnings (1)") < out.index("Info (1)")
    block = out[out.index("Errors (2)") : out.index("Warnings (1)")]
    assert "ERROR WADO-RS-004  part 1, (0002,0010)" in block
    assert "expected: 1.2.840.10008.1.2.4.70" in block
    assert "actual:   1.2.840.10008.1.2.1" in block
    assert "see: PS3.18 §8.7.3.5.2" in block
    assert "TLS-002" in block
    assert "WARN  WADO-RQ-003  header Accept" in out


def test_part_table() -> None:
    out = render(failed_report(), "text")
    table = out[out.index("Parts (2)") :].splitlines()
    assert table[1].split() == [
        "#",
        "size",
        "sha256",
        "SOP",
        "Instance",
        "UID",
        "transfer",
        "syntax",
    ]
    assert table[2].split() == [
        "0",
        "1024",
        "0f0f0f0f0f0f",
        "1.2.826.0.1.3680043.8.498.1",
        "1.2.840.10008.1.2.1",
    ]
    assert len(table) == 4


def test_other_verdicts() -> None:
    assert render(passed_report(), "text").startswith("PASSED ")
    out = render(undefined_report(), "text")
    assert out.startswith("UNDEFINED  headers-only.http  (nothing could be checked)")
    assert "Errors" not in out
    assert "Parts" not in out


def test_plain_unless_colour_is_asked() -> None:
    assert not ANSI.search(render(failed_report(), "text"))
    coloured = render(failed_report(), "text", color=True)
    assert coloured.startswith("\x1b[1;31mFAILED\x1b[0m")
    assert ANSI.sub("", coloured) == render(failed_report(), "text")


def test_hostile_text_cannot_drive_the_terminal() -> None:
    out = render(EXAMPLES["hostile"](), "text")
    assert "\x1b" not in out
    assert "\x00" not in out
    assert "\\x1b[2J\\x00" in out
    coloured = render(EXAMPLES["hostile"](), "text", color=True)
    assert "\x1b[2J" not in coloured
    assert HOSTILE not in coloured


def test_a_multi_line_message_stays_on_its_line() -> None:
    report = make_report((finding(message="first\nsecond\r\nthird", actual="a\nb"),))
    lines = render(report, "text").splitlines()
    assert "        first\\nsecond\\r\\nthird" in lines
    assert "        actual:   a\\nb" in lines


def test_missing_optional_fields() -> None:
    out = render(EXAMPLES["minimal"](), "text")
    assert out.splitlines()[0].startswith("PASSED")
    assert "profile dicomweb; validator drimlab; " in out
    assert "INFO  X-001  message" in out
