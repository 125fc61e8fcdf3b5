"""Every renderer, every format: verdicts, empty and huge reports, hostile and random text.

The report builders and the Hypothesis strategy here are shared by the format-specific
`test_render_*.py` modules.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drimlab.errors import InputError
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.render import FORMATS, render
from drimlab.validation.report import PartRecord, Report, Verdict

T0 = datetime(2026, 11, 3, 9, 30, 0, tzinfo=UTC)
SHA = "0f" * 32
HOSTILE = '<script>alert("x")</script>&\x1b[2J\x00'


def finding(
    rule: str = "WADO-RS-004",
    severity: Severity = Severity.ERROR,
    message: str = "part transfer-syntax disagrees with the File Meta",
    location: Location | None = None,
    **kwargs: object,
) -> Finding:
    return Finding(rule, severity, message, location or Location(), **kwargs)  # type: ignore[arg-type]


def part(index: int = 0, **kwargs: object) -> PartRecord:
    values: dict[str, object] = {
        "size": 1024 + index,
        "sha256": SHA,
        "content_type": "application/dicom; transfer-syntax=1.2.840.10008.1.2.1",
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.2",
        "sop_instance_uid": f"1.2.826.0.1.3680043.8.498.{index + 1}",
        "study_instance_uid": "1.2.826.0.1.3680043.8.498.100",
        "series_instance_uid": "1.2.826.0.1.3680043.8.498.200",
        "transfer_syntax_uid": "1.2.840.10008.1.2.1",
    }
    values.update(kwargs)
    return PartRecord(index=index, **values)  # type: ignore[arg-type]


def make_report(
    findings: tuple[Finding, ...] = (),
    rules_checked: tuple[str, ...] = ("WADO-RS-001", "WADO-RS-004", "WADO-RQ-003"),
    **kwargs: object,
) -> Report:
    values: dict[str, object] = {
        "subject": "responses/series-ct.http",
        "profile": "drim-m",
        "tool_version": "0.1.0",
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=1.25),
    }
    values.update(kwargs)
    return Report(findings=findings, rules_checked=rules_checked, **values)  # type: ignore[arg-type]


def failed_report() -> Report:
    """Two errors (one from a rule that did not run), a warning, an info, two parts."""
    return make_report(
        (
            finding(
                location=Location(part=1, tag_path="(0002,0010)"),
                expected="1.2.840.10008.1.2.4.70",
                actual="1.2.840.10008.1.2.1",
                references=("PS3.18 §8.7.3.5.2",),
            ),
            finding(
                "WADO-RQ-003",
                Severity.WARNING,
                "Accept carries a boundary parameter",
                Location(header="Accept"),
            ),
            finding("WADO-RS-001", Severity.INFO, "body ended by connection close"),
            finding("TLS-002", Severity.ERROR, "client certificate not on the whitelist"),
        ),
        parts=(part(0), part(1)),
        facts={"status": 200, "peer": {"cn": "db175.test.example"}},
    )


def passed_report() -> Report:
    return make_report((finding("WADO-RQ-003", Severity.WARNING, "trailing comma in Accept"),))


def undefined_report() -> Report:
    return make_report((), (), checked_anything=False, subject="headers-only.http")


def minimal_report() -> Report:
    """Only required fields: no version, no parts, no facts, an empty-location finding."""
    return Report(
        subject="",
        profile="dicomweb",
        findings=(Finding("X-001", Severity.INFO, ""),),
        rules_checked=("X-001",),
    )


EXAMPLES = {
    "failed": failed_report,
    "passed": passed_report,
    "undefined": undefined_report,
    "empty": make_report,
    "minimal": minimal_report,
    "non-ascii": lambda: make_report(
        (finding(message="Patient « Éloïse Ñúñez » 患者 — 🩻", actual="Ünïcödé"),),
        subject="réponse-série.http",
    ),
    "hostile": lambda: make_report(
        (
            finding(
                message=HOSTILE, expected=HOSTILE, actual=HOSTILE, location=Location(header=HOSTILE)
            ),
        ),
        subject=HOSTILE,
        parts=(part(0, sop_instance_uid=HOSTILE),),
        facts={HOSTILE: HOSTILE},
    ),
}


def test_formats_are_the_documented_six() -> None:
    assert FORMATS == ("text", "json", "html", "junit", "gazelle-json", "gazelle-xml")


def test_unknown_format_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown report format 'pdf'"):
        render(failed_report(), "pdf")


def test_example_verdicts() -> None:
    assert failed_report().verdict is Verdict.FAILED
    assert passed_report().verdict is Verdict.PASSED
    assert undefined_report().verdict is Verdict.UNDEFINED


def check_output(fmt: str, out: str, report: Report) -> None:
    """Format-independent checks: parseable, and the verdict is stated."""
    assert out.endswith("\n")
    if fmt == "json":
        assert json.loads(out)["verdict"] == report.verdict.value
    elif fmt == "gazelle-json":
        assert json.loads(out)["overallResult"] == report.verdict.value
    elif fmt in ("junit", "gazelle-xml"):
        root = ET.fromstring(out)
        assert report.verdict.value in ET.tostring(root, encoding="unicode")
    elif fmt == "html":
        assert report.verdict.value in out
        assert "<script" not in out.lower()
    else:
        assert report.verdict.value in out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_format_renders_every_example(fmt: str, name: str) -> None:
    report = EXAMPLES[name]()
    check_output(fmt, render(report, fmt), report)
    check_output(fmt, render(report, fmt, color=True), report)


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_is_deterministic(fmt: str) -> None:
    assert render(failed_report(), fmt) == render(failed_report(), fmt)


def big_report(count: int = 2000) -> Report:
    severities = (Severity.ERROR, Severity.WARNING, Severity.INFO)
    findings = tuple(
        finding(
            f"DICOM-{i % 40:03d}",
            severities[i % 3],
            f"finding number {i}",
            location=Location(part=i),
        )
        for i in range(count)
    )
    rules = tuple(f"DICOM-{i:03d}" for i in range(60))
    return make_report(findings, rules, parts=tuple(part(i) for i in range(count // 4)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_thousands_of_findings(fmt: str) -> None:
    report = big_report()
    out = render(report, fmt)
    check_output(fmt, out, report)
    assert "finding number 1999" in out


codes = st.from_regex(r"[A-Z]{1,4}(-[A-Z]{1,3})?-[0-9]{3}", fullmatch=True)
texts = st.text(max_size=40)
optional_texts = st.none() | texts
locations = st.builds(
    Location,
    header=optional_texts,
    part=st.none() | st.integers(min_value=0, max_value=10_000),
    tag_path=optional_texts,
    path=optional_texts,
)
random_findings = st.builds(
    Finding,
    rule=codes,
    severity=st.sampled_from(Severity),
    message=texts,
    location=locations,
    expected=optional_texts,
    actual=optional_texts,
    references=st.lists(texts, max_size=3).map(tuple),
)
random_parts = st.builds(
    PartRecord,
    index=st.integers(min_value=0, max_value=1000),
    size=st.integers(min_value=0, max_value=2**40),
    sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    content_type=optional_texts,
    sop_class_uid=optional_texts,
    sop_instance_uid=optional_texts,
    study_instance_uid=optional_texts,
    series_instance_uid=optional_texts,
    transfer_syntax_uid=optional_texts,
)
json_values = st.none() | st.booleans() | st.integers() | texts
times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.none() | st.just(UTC),
)


@st.composite
def reports(draw: st.DrawFn) -> Report:
    started = draw(times)
    return Report(
        subject=draw(texts),
        profile=draw(texts),
        findings=tuple(draw(st.lists(random_findings, max_size=8))),
        rules_checked=tuple(draw(st.lists(codes, max_size=8, unique=True))),
        validator=draw(texts),
        tool_version=draw(texts),
        started_at=started,
        finished_at=started + timedelta(seconds=draw(st.floats(0, 3600))),
        parts=tuple(draw(st.lists(random_parts, max_size=3))),
        checked_anything=draw(st.booleans()),
        facts=draw(st.dictionaries(texts, json_values, max_size=3)),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=reports(), color=st.booleans())
def test_random_reports_render_in_every_format(report: Report, color: bool) -> None:
    for fmt in FORMATS:
        check_output(fmt, render(report, fmt, color=color), report)
    plain = render(report, "text")
    assert not any(ord(c) < 0x20 and c != "\n" for c in plain)
