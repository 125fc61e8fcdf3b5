"""What each rule came to in a Report: the shared view of the JUnit and Gazelle renderers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from drimlab.validation.findings import Finding, Severity, part_ranges
from drimlab.validation.report import Report
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

    @property
    def family(self) -> str:
        return family_of(self.code)

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def of_severity(self, severity: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is severity)


def rule_outcomes(report: Report, catalogue: Catalogue | None = None) -> list[RuleOutcome]:
    """Every rule that ran or has findings, by code; names and summaries from `catalogue`."""
    by_rule: dict[str, list[Finding]] = {code: [] for code in report.rules_checked}
    for finding in report.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
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
            )
        )
    return outcomes


def by_family(outcomes: Iterable[RuleOutcome]) -> dict[str, list[RuleOutcome]]:
    """Outcomes grouped by rule family, families in code order."""
    groups: dict[str, list[RuleOutcome]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.code):
        groups.setdefault(outcome.family, []).append(outcome)
    return groups


def describe(finding: Finding) -> str:
    """A finding's message with its expected and actual values, on one line."""
    extra = []
    if finding.expected is not None:
        extra.append(f"expected: {finding.expected}")
    if finding.actual is not None:
        extra.append(f"actual: {finding.actual}")
    return f"{finding.message} ({'; '.join(extra)})" if extra else finding.message


@dataclass(frozen=True)
class FindingGroup:
    """Identical findings on several parts, shown once with the part ranges.

    Findings are identical when only their part differs (same rule, severity, message,
    header, tag path, path, expected and actual). A finding without a part is a group alone.
    """

    finding: Finding
    parts: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return max(1, len(self.parts))

    @property
    def rule(self) -> str:
        return self.finding.rule

    @property
    def severity(self) -> Severity:
        return self.finding.severity

    @property
    def message(self) -> str:
        return self.finding.message

    @property
    def expected(self) -> str | None:
        return self.finding.expected

    @property
    def actual(self) -> str | None:
        return self.finding.actual

    @property
    def references(self) -> tuple[str, ...]:
        return self.finding.references

    @property
    def location(self) -> str:
        """Where: the finding's location, with `parts 0-9, 12 (11 parts)` when grouped."""
        if len(self.parts) < 2:
            return str(self.finding.location)
        where = replace(self.finding.location, part=None)
        rest = "" if str(where) == "message" else f", {where}"
        return f"parts {part_ranges(self.parts)} ({len(self.parts)} parts){rest}"


def grouped(findings: Iterable[Finding]) -> list[FindingGroup]:
    """The findings, identical ones on several parts merged, in order of first appearance."""
    groups: dict[object, list[Finding]] = {}
    for index, found in enumerate(findings):
        loc = found.location
        same = (found.rule, found.severity, found.message, loc.header, loc.tag_path, loc.path)
        key: object = (*same, found.expected, found.actual) if loc.part is not None else index
        groups.setdefault(key, []).append(found)
    out = []
    for members in groups.values():
        parts = tuple(m.location.part for m in members if m.location.part is not None)
        out.append(FindingGroup(members[0], parts if len(members) > 1 else ()))
    return out
