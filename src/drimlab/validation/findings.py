"""A Finding: one observation a rule makes about a message or a document.

A non-conformance of a system under test is data, never an exception: rules yield
Findings, built whole and frozen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How much a finding weighs in the verdict: only errors fail a report."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Location:
    """Where in the subject a finding points.

    `header` names an HTTP header, `part` a multipart body part (0-based), `tag_path` a DICOM
    attribute path such as `(0008,1115)[0]/(0008,1190)`, `path` a file or an XPath.
    """

    header: str | None = None
    part: int | None = None
    tag_path: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        bits = []
        if self.header is not None:
            bits.append(f"header {self.header}")
        if self.part is not None:
            bits.append(f"part {self.part}")
        if self.tag_path is not None:
            bits.append(self.tag_path)
        if self.path is not None:
            bits.append(self.path)
        return ", ".join(bits) or "message"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Finding:
    """One rule's observation: which rule, how severe, what, where, expected vs actual."""

    rule: str
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    expected: str | None = None
    actual: str | None = None
    references: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "location": str(self.location),
            "location_detail": self.location.as_dict(),
        }
        if self.expected is not None:
            out["expected"] = self.expected
        if self.actual is not None:
            out["actual"] = self.actual
        if self.references:
            out["references"] = list(self.references)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            rule=str(data["rule"]),
            severity=Severity(data["severity"]),
            message=str(data["message"]),
            location=Location(**data.get("location_detail", {})),
            expected=data.get("expected"),
            actual=data.get("actual"),
            references=tuple(data.get("references", ())),
        )


def part_ranges(indexes: Iterable[int]) -> str:
    """Part indexes as ranges: [0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    spans: list[list[int]] = []
    for index in sorted(set(indexes)):
        if spans and index == spans[-1][1] + 1:
            spans[-1][1] = index
        else:
            spans.append([index, index])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
