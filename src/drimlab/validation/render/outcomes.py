"""What each rule came to in a Report: the shared view of the JUnit and Gazelle renderers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drimlab.limits import FINDINGS_PER_RULE
from drimlab.validation.findings import Finding, Severity
from drimlab.validation.report import Omitted, Report
from drimlab.validation.rules import Catalogue

SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.INFO)


def family_of(code: str) -> str:
    """The family prefix of a rule code: `WADO-RQ-012` -> `WADO-RQ`."""
    head, sep, _ = code.rpartition("-")
    return head if sep else code


@dataclass(frozen=True)
class RuleOutcome:
    """One rule of a report: whether it ran, and the findings it (or a component) made."""

    code: str
    checked: bool
    findings: tuple[Finding, ...]
    name: str | None = None
    summary: str | None = None
    omitted: tuple[Omitted, ...] = ()

    @property
    def family(self) -> str:
        return family_of(self.code)

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings) or any(
            o.severity is Severity.ERROR for o in self.omitted
        )

    def of_severity(self, severity: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is severity)


def rule_outcomes(report: Report, catalogue: Catalogue | None = None) -> list[RuleOutcome]:
    """Every rule that ran or has findings, by code; names and summaries from `catalogue`."""
    by_rule: dict[str, list[Finding]] = {code: [] for code in report.rules_checked}
    for finding in report.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    for omitted in report.omitted:
        by_rule.setdefault(omitted.rule, [])
    checked = set(report.rules_checked)
    outcomes = []
    for code in sorted(by_rule):
        rule = catalogue[code] if catalogue is not None and code in catalogue else None
        outcomes.append(
            RuleOutcome(
                code=code,
                checked=code in checked,
                findings=tuple(by_rule[code]),
                name=rule.name if rule else None,
                summary=rule.summary if rule else None,
                omitted=tuple(o for o in report.omitted if o.rule == code),
            )
        )
    return outcomes


def by_family(outcomes: Iterable[RuleOutcome]) -> dict[str, list[RuleOutcome]]:
    """Outcomes grouped by rule family, families in code order."""
    groups: dict[str, list[RuleOutcome]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.code):
        groups.setdefault(outcome.family, []).append(outcome)
    return groups


def omitted_text(omitted: Omitted) -> str:
    """`199900 more error findings of WADO-RS-031 not listed (at most 100 per rule)`."""
    return (
        f"{omitted.count} more {omitted.severity.value} findings of {omitted.rule} not listed "
        f"(at most {FINDINGS_PER_RULE} per rule and severity)"
    )


def describe(finding: Finding) -> str:
    """A finding's message with its expected and actual values, on one line."""
    extra = []
    if finding.expected is not None:
        extra.append(f"expected: {finding.expected}")
    if finding.actual is not None:
        extra.append(f"actual: {finding.actual}")
    return f"{finding.message} ({'; '.join(extra)})" if extra else finding.message
