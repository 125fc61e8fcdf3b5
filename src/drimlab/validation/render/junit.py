"""A Report as JUnit XML: one test case per rule, so CI shows each rule's outcome.

- a rule that ran: a test case, with a `failure` when it has an error finding;
- a rule that did not run but has findings (emitted by a component): a test case too,
  `failure` on an error, `skipped` otherwise;
- warnings and info of a rule go to its `system-out`;
- a report where nothing could be checked (UNDEFINED) gets one skipped test case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC

from drimlab.validation.findings import Finding, Severity
from drimlab.validation.render.outcomes import (
    RuleOutcome,
    describe,
    omitted_text,
    rule_outcomes,
)
from drimlab.validation.render.sanitize import xml_text
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import Catalogue


def _finding_text(finding: Finding) -> str:
    lines = [f"[{finding.severity.value}] {finding.rule} at {finding.location}: {finding.message}"]
    if finding.expected is not None:
        lines.append(f"  expected: {finding.expected}")
    if finding.actual is not None:
        lines.append(f"  actual:   {finding.actual}")
    if finding.references:
        lines.append(f"  see: {'; '.join(finding.references)}")
    return "\n".join(lines)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _testcase(suite: ET.Element, outcome: RuleOutcome, classname: str) -> None:
    name = f"{outcome.code} {outcome.name}" if outcome.name else outcome.code
    case = _sub(suite, "testcase", classname=classname, name=name, time="0")
    errors = outcome.of_severity(Severity.ERROR)
    others = [f for f in outcome.findings if f.severity is not Severity.ERROR]
    not_listed = [omitted_text(o) for o in outcome.omitted]
    if errors:
        first = errors[0]
        message = describe(first)
        more = (
            len(errors) - 1 + sum(o.count for o in outcome.omitted if o.severity is Severity.ERROR)
        )
        if more:
            message += f" (and {more} more)"
        _sub(
            case,
            "failure",
            "\n".join([*(_finding_text(f) for f in errors), *not_listed]),
            message=message,
            type=f"{outcome.code} error",
        )
    elif not outcome.checked:
        _sub(case, "skipped", message="rule did not run; its findings came from a component")
    if others:
        lines = [_finding_text(f) for f in others] + ([] if errors else not_listed)
        _sub(case, "system-out", "\n".join(lines))


def render_junit(report: Report, catalogue: Catalogue | None = None) -> str:
    """The report as a JUnit XML document (`testsuites` > `testsuite` > `testcase`)."""
    outcomes = rule_outcomes(report, catalogue)
    seconds = max((report.finished_at - report.started_at).total_seconds(), 0.0)
    failures = sum(1 for o in outcomes if o.failed)
    skipped = sum(1 for o in outcomes if not o.failed and not o.checked)
    undefined = report.verdict is Verdict.UNDEFINED and not outcomes
    tests = len(outcomes) + (1 if undefined else 0)
    skipped += 1 if undefined else 0
    suite_name = f"drimlab {report.profile}: {report.subject}"
    started = report.started_at
    if started.tzinfo is not None:
        started = started.astimezone(UTC).replace(tzinfo=None)
    totals = {
        "tests": str(tests),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": f"{seconds:.3f}",
    }
    root = ET.Element("testsuites", {"name": "drimlab", **totals})
    suite = _sub(
        root,
        "testsuite",
        name=suite_name,
        timestamp=started.isoformat(timespec="seconds"),
        hostname="localhost",
        **totals,
    )
    properties = _sub(suite, "properties")
    for key, value in (
        ("verdict", report.verdict.value),
        ("subject", report.subject),
        ("profile", report.profile),
        ("validator", report.validator),
        ("tool_version", report.tool_version),
        ("parts", str(len(report.parts))),
        ("warnings", str(report.counters["warning"])),
        ("info", str(report.counters["info"])),
    ):
        _sub(properties, "property", name=key, value=value)
    classname = f"drimlab.{report.profile}"
    for outcome in outcomes:
        _testcase(suite, outcome, f"{classname}.{outcome.family}")
    if undefined:
        case = _sub(suite, "testcase", classname=classname, name="report", time="0")
        _sub(case, "skipped", message="UNDEFINED: nothing could be checked")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
