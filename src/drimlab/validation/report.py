"""A Report: the verdict of one validation run, with everything a certifier needs.

Renderers never re-validate: they read a Report. A Report round-trips through JSON
(`as_dict` / `from_dict`) so the store can keep it and a monitor can compare it later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = ["Omitted", "PartRecord", "Report", "Verdict"]

from drimlab.exchange import PartRecord
from drimlab.validation.findings import Finding, Severity


class Verdict(StrEnum):
    """PASSED: checked, no error. FAILED: at least one error. UNDEFINED: nothing checkable."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    UNDEFINED = "UNDEFINED"


@dataclass(frozen=True)
class Omitted:
    """Findings of one rule and severity a report counts but does not list (over the cap)."""

    rule: str
    severity: Severity
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Omitted:
        return cls(str(data["rule"]), Severity(data["severity"]), int(data["count"]))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Report:
    """Subject, profile, findings and the verdict derived from them."""

    subject: str
    profile: str
    findings: tuple[Finding, ...]
    rules_checked: tuple[str, ...]
    validator: str = "drimlab"
    tool_version: str = ""
    started_at: datetime = field(default_factory=_now)
    finished_at: datetime = field(default_factory=_now)
    parts: tuple[PartRecord, ...] = ()
    checked_anything: bool = True
    facts: dict[str, Any] = field(default_factory=dict)
    omitted: tuple[Omitted, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if any(f.severity is Severity.ERROR for f in self.findings) or any(
            o.severity is Severity.ERROR for o in self.omitted
        ):
            return Verdict.FAILED
        if not self.checked_anything:
            return Verdict.UNDEFINED
        return Verdict.PASSED

    @property
    def counters(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Severity}
        for f in self.findings:
            counts[f.severity.value] += 1
        for o in self.omitted:
            counts[o.severity.value] += o.count
        if self.omitted:
            counts["omitted"] = sum(o.count for o in self.omitted)
        counts["rules_checked"] = len(self.rules_checked)
        counts["parts"] = len(self.parts)
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "subject": self.subject,
            "profile": self.profile,
            "validator": self.validator,
            "tool_version": self.tool_version,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "counters": self.counters,
            "checked_anything": self.checked_anything,
            "rules_checked": list(self.rules_checked),
            "findings": [f.as_dict() for f in self.findings],
            "findings_omitted": [o.as_dict() for o in self.omitted],
            "parts": [p.as_dict() for p in self.parts],
            "facts": self.facts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            subject=str(data["subject"]),
            profile=str(data["profile"]),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", ())),
            rules_checked=tuple(data.get("rules_checked", ())),
            validator=str(data.get("validator", "drimlab")),
            tool_version=str(data.get("tool_version", "")),
            started_at=datetime.fromisoformat(data["started_at"]),
            finished_at=datetime.fromisoformat(data["finished_at"]),
            parts=tuple(PartRecord.from_dict(p) for p in data.get("parts", ())),
            checked_anything=bool(data.get("checked_anything", True)),
            facts=dict(data.get("facts", {})),
            omitted=tuple(Omitted.from_dict(o) for o in data.get("findings_omitted", ())),
        )
