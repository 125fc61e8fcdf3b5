"""A Report in the two forms Gazelle-based tooling reads (mapping in docs/gazelle.md).

- `gazelle-json`: the validation report of the Gazelle Validation Service API, model
  version 0.1: `overallResult`, `validationMethod`, one sub-report per rule family with
  its `assertionReports` and `subCounters`, and overall `counters`.
- `gazelle-xml`: the legacy `detailedResult` document of the External Validation Service:
  `ValidationResultsOverview`, `ValidationCounters`, and `MDAValidation` holding one
  `Error` / `Warning` / `Info` per finding and one `Note` per rule that passed.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from drimlab.validation.findings import Finding, Severity
from drimlab.validation.render.outcomes import by_family, describe, omitted_text, rule_outcomes
from drimlab.validation.render.sanitize import json_text, xml_text
from drimlab.validation.report import Report
from drimlab.validation.rules import Catalogue

MODEL_VERSION = "0.1"
ASSERTION_TYPE = "drimlab rule"
DISCLAIMER = (
    "Produced by drimlab, an independent DRIM-M test bench. This report is evidence for a "
    "monitor to review; it is not a homologation decision."
)

# Our severity -> Gazelle (severity, priority): a failed MANDATORY requirement is an
# ERROR, a RECOMMENDED one a WARNING, a PERMITTED one an INFO.
SEVERITY_MAP: dict[Severity, tuple[str, str]] = {
    Severity.ERROR: ("ERROR", "MANDATORY"),
    Severity.WARNING: ("WARNING", "RECOMMENDED"),
    Severity.INFO: ("INFO", "PERMITTED"),
}
_XML_ELEMENT = {Severity.ERROR: "Error", Severity.WARNING: "Warning", Severity.INFO: "Info"}
_PASSED_DESCRIPTION = "Rule checked: no finding."


def report_uuid(report: Report) -> str:
    """A UUID derived from the report's content: the same report always gets the same one."""
    digest = json.dumps(report.as_dict(), sort_keys=True, ensure_ascii=False, default=str)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "urn:drimlab:report:" + json_text(digest)))


def _counters(assertions: list[dict[str, Any]]) -> dict[str, int]:
    failed = [a for a in assertions if a["result"] == "FAILED"]
    return {
        "numberOfAssertions": len(assertions),
        "numberOfFailedWithInfos": sum(1 for a in failed if a["severity"] == "INFO"),
        "numberOfFailedWithWarnings": sum(1 for a in failed if a["severity"] == "WARNING"),
        "numberOfFailedWithErrors": sum(1 for a in failed if a["severity"] == "ERROR"),
        "numberOfUnexpectedErrors": 0,
    }


def _failed_assertion(finding: Finding) -> dict[str, Any]:
    severity, priority = SEVERITY_MAP[finding.severity]
    out: dict[str, Any] = {
        "assertionID": finding.rule,
        "assertionType": ASSERTION_TYPE,
        "description": describe(finding).strip() or f"{finding.rule} {finding.severity.value}",
        "subjectLocation": str(finding.location),
    }
    if finding.actual and finding.actual.strip():
        out["subjectValue"] = finding.actual
    if finding.references:
        out["requirementIDs"] = list(finding.references)
    out.update(severity=severity, priority=priority, result="FAILED")
    return out


def _passed_text(summary: str | None) -> str:
    return f"{summary} {_PASSED_DESCRIPTION}" if summary else _PASSED_DESCRIPTION


def _passed_assertion(code: str, summary: str | None) -> dict[str, Any]:
    return {
        "assertionID": code,
        "assertionType": ASSERTION_TYPE,
        "description": _passed_text(summary),
        "severity": "INFO",
        "priority": "MANDATORY",
        "result": "PASSED",
    }


def gazelle_report(report: Report, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The report as a Gazelle validation report (model 0.1), as plain JSON data."""
    sub_reports: list[dict[str, Any]] = []
    every_assertion: list[dict[str, Any]] = []
    for family, outcomes in by_family(rule_outcomes(report, catalogue)).items():
        assertions: list[dict[str, Any]] = []
        for outcome in outcomes:
            if outcome.findings:
                assertions.extend(_failed_assertion(f) for f in outcome.findings)
            elif outcome.checked:
                assertions.append(_passed_assertion(outcome.code, outcome.summary))
        failed = any(o.failed for o in outcomes)
        every_assertion.extend(assertions)
        sub_reports.append(
            {
                "name": family,
                "subReportResult": "FAILED" if failed else "PASSED",
                "assertionReports": assertions,
                "subCounters": _counters(assertions),
            }
        )
    metadata = [
        {"name": "subject", "value": report.subject},
        {"name": "profile", "value": report.profile},
        {"name": "startedAt", "value": report.started_at.isoformat()},
        {"name": "finishedAt", "value": report.finished_at.isoformat()},
        {"name": "rulesChecked", "value": str(len(report.rules_checked))},
        {"name": "parts", "value": str(len(report.parts))},
    ]
    metadata.extend(
        {"name": f"notListed[{o.rule}/{o.severity.value}]", "value": omitted_text(o)}
        for o in report.omitted
    )
    metadata.extend(
        {"name": f"part[{p.index}]", "value": f"{p.sop_instance_uid or '-'} sha256={p.sha256}"}
        for p in report.parts
    )
    out: dict[str, Any] = {
        "modelVersion": MODEL_VERSION,
        "uuid": report_uuid(report),
        "dateTime": report.finished_at.isoformat(timespec="milliseconds"),
        "disclaimer": DISCLAIMER,
        "validationMethod": {
            "validationServiceName": report.validator or "drimlab",
            "validationServiceVersion": report.tool_version or "unknown",
            "validationProfileID": report.profile or "unknown",
            "validationProfileVersion": report.tool_version or "unknown",
        },
        "overallResult": report.verdict.value,
        "additionalMetadata": metadata,
    }
    if sub_reports:
        out["reports"] = sub_reports
    out["counters"] = _counters(every_assertion)
    return out


def render_gazelle_json(report: Report, catalogue: Catalogue | None = None) -> str:
    """The Gazelle validation report as indented JSON."""
    data = gazelle_report(report, catalogue)
    return json_text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = xml_text(text)
    return element


def _notification(parent: ET.Element, tag: str, test: str, location: str, text: str) -> None:
    element = _sub(parent, tag)
    _sub(element, "Test", test)
    _sub(element, "Location", location)
    _sub(element, "Description", text)
    _sub(element, "Identifiant", test)


def render_gazelle_xml(report: Report, catalogue: Catalogue | None = None) -> str:
    """The legacy Gazelle `detailedResult` XML document."""
    outcomes = rule_outcomes(report, catalogue)
    verdict = report.verdict
    finished = report.finished_at
    root = ET.Element("detailedResult")
    overview = _sub(root, "ValidationResultsOverview")
    _sub(overview, "ValidationDate", finished.strftime("%Y, %m %d"))
    _sub(overview, "ValidationTime", finished.strftime("%H:%M:%S"))
    _sub(overview, "ValidationServiceName", f"{report.validator or 'drimlab'} ({report.profile})")
    _sub(overview, "ValidationServiceVersion", report.tool_version or "unknown")
    _sub(overview, "ValidationTestResult", verdict.value)

    passed = [o for o in outcomes if o.checked and not o.findings]
    counts = report.counters
    counters = _sub(root, "ValidationCounters")
    _sub(counters, "NrOfChecks", str(len(report.findings) + len(passed)))
    _sub(counters, "NrOfValidationErrors", str(counts["error"]))
    _sub(counters, "NrOfValidationWarnings", str(counts["warning"]))
    _sub(counters, "NrOfValidationInfos", str(counts["info"]))
    _sub(counters, "NrOfValidationNotes", str(len(passed)))

    mda = _sub(root, "MDAValidation")
    _sub(mda, "Result", verdict.value)
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        for finding in report.findings:
            if finding.severity is severity:
                _notification(
                    mda,
                    _XML_ELEMENT[severity],
                    finding.rule,
                    str(finding.location),
                    describe(finding),
                )
    for omitted in report.omitted:
        _notification(mda, "Note", omitted.rule, "report", omitted_text(omitted))
    for outcome in passed:
        _notification(mda, "Note", outcome.code, "message", _passed_text(outcome.summary))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
