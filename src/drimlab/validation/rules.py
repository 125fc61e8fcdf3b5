"""Rules and the catalogue that holds them.

A `Rule` has a stable code (family prefix + number, e.g. `WADO-RQ-012`), a kebab name that
names the fault, a default severity, spec references and a `RuleDoc` with fixed headings.
Its `check` is a generator of Findings over one `Kind` of subject (request, response, part,
tls, decision, probe, whitelist, kos, ...). Every rule has a check: components record facts,
only rules judge them (see `drimlab.validation.assess`).

Rule families live in the modules of `drimlab.validation.rulesets`, listed once in
`RULESETS`; `load_all()` imports every one of them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drimlab.validation.findings import Finding, Location, Severity

CODE_PATTERN = re.compile(r"^[A-Z]+(?:-[A-Z]+)*-\d{3}$")
NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Kind(StrEnum):
    """The kinds of subject rules judge (each rule judges one kind)."""

    REQUEST = "request"
    RESPONSE = "response"
    HEALTH_CHECK = "health-check"  # the request of a health check (GET {base})
    HEALTH_ANSWER = "health-answer"  # the source's answer to it
    BODY = "body"
    PART = "part"
    EXCHANGE = "exchange"
    TLS = "tls"
    DECISION = "decision"
    PROBE = "probe"
    BATTERY = "battery"  # every probe outcome of one run, compared with each other
    BURST = "burst"
    WHITELIST = "whitelist"
    KOS = "kos"
    XDS = "xds"
    CROSS = "cross"
    XDM = "xdm"


class UnknownRuleError(ValueError):
    """A code or prefix given to select/ignore names no rule of the catalogue."""


@dataclass(frozen=True)
class RuleDoc:
    """The fixed headings of a rule's documentation."""

    what: str
    why: str
    bad: str
    good: str

    def missing(self) -> list[str]:
        return [k for k in ("what", "why", "bad", "good") if not getattr(self, k).strip()]


CheckFunction = Callable[..., Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    """One documented check with a stable code."""

    code: str
    name: str
    severity: Severity
    summary: str
    doc: RuleDoc
    references: tuple[str, ...]
    subject: Kind
    check: CheckFunction = field(compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "subject", Kind(self.subject))

    def finding(
        self,
        message: str,
        location: Location | None = None,
        *,
        expected: str | None = None,
        actual: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """Build this rule's Finding, whole and frozen."""
        return Finding(
            rule=self.code,
            severity=severity or self.severity,
            message=message,
            location=location or Location(),
            expected=expected,
            actual=actual,
            references=self.references,
        )

    @property
    def family(self) -> str:
        return self.code.rsplit("-", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "summary": self.summary,
            "subject": self.subject.value,
            "references": list(self.references),
            "doc": {
                "what": self.doc.what,
                "why": self.doc.why,
                "bad": self.doc.bad,
                "good": self.doc.good,
            },
        }


class Catalogue:
    """Every rule drimlab knows, by code."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}

    def register(self, rule: Rule) -> Rule:
        if not CODE_PATTERN.match(rule.code):
            raise ValueError(f"rule code {rule.code!r} is not FAMILY-NNN")
        if not NAME_PATTERN.match(rule.name):
            raise ValueError(f"rule name {rule.name!r} is not kebab-case")
        known = self._rules.get(rule.code)
        if known is not None and known.name != rule.name:
            raise ValueError(f"rule code {rule.code} is already {known.name}")
        self._rules[rule.code] = rule
        return rule

    def declare(
        self,
        code: str,
        name: str,
        *,
        severity: Severity,
        summary: str,
        what: str,
        why: str,
        bad: str,
        good: str,
        references: Iterable[str] = (),
        subject: Kind | str,
        check: CheckFunction,
    ) -> Rule:
        """Register a documented rule judging one kind of subject with `check`."""
        return self.register(
            Rule(
                code=code,
                name=name,
                severity=severity,
                summary=summary,
                doc=RuleDoc(what=what, why=why, bad=bad, good=good),
                references=tuple(references),
                subject=Kind(subject),
                check=check,
            )
        )

    def rule(
        self,
        code: str,
        name: str,
        *,
        severity: Severity,
        summary: str,
        what: str,
        why: str,
        bad: str,
        good: str,
        references: Iterable[str] = (),
        subject: Kind | str,
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator form: register the decorated generator as the rule's check."""

        def wrap(check: CheckFunction) -> CheckFunction:
            self.declare(
                code,
                name,
                severity=severity,
                summary=summary,
                what=what,
                why=why,
                bad=bad,
                good=good,
                references=references,
                subject=subject,
                check=check,
            )
            return check

        return wrap

    def __getitem__(self, code: str) -> Rule:
        try:
            return self._rules[code]
        except KeyError:
            raise UnknownRuleError(f"unknown rule code {code!r}") from None

    def __contains__(self, code: object) -> bool:
        return code in self._rules

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=lambda r: r.code))

    def __len__(self) -> int:
        return len(self._rules)

    def matching(self, code_or_prefix: str) -> list[Rule]:
        """Rules whose code equals or starts with the given code or prefix; unknown is an error."""
        wanted = code_or_prefix.strip().upper()
        found = [r for r in self if r.code == wanted or r.code.startswith(wanted)]
        if not wanted or not found:
            raise UnknownRuleError(f"no rule code or prefix matches {code_or_prefix!r}")
        return found


CATALOGUE = Catalogue()


def declare(
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    *,
    subject: Kind,
    check: CheckFunction,
    what: str,
    why: str,
    bad: str,
    good: str,
    references: Iterable[str] = (),
) -> Rule:
    """Register a documented rule in the catalogue (the form families built from tables use)."""
    return CATALOGUE.declare(
        code,
        name,
        severity=severity,
        summary=summary,
        what=what,
        why=why,
        bad=bad,
        good=good,
        references=references,
        subject=subject,
        check=check,
    )


#: Every rule family module, in catalogue order (a table, not import side effects).
RULESETS = (
    "request",
    "request_forms",
    "health",
    "response",
    "body",
    "part",
    "pixels",
    "drim",
    "identity",
    "drim_response",
    "refusal",
    "trust",
    "whitelist",
    "probe",
    "kos",
    "kos_evidence",
    "xds",
    "xds_structure",
    "cross",
    "cross_hl7",
    "xdm",
)


def load_all() -> Catalogue:
    """Import every rule family so the catalogue is complete."""
    for name in RULESETS:
        importlib.import_module(f"drimlab.validation.rulesets.{name}")
    return CATALOGUE
