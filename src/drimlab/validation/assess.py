"""`assess()`: the one place where subjects, a profile and the user's selection become a Report.

Every verdict of the bench comes from here: the request, response, body and part subjects
of an exchange, the TLS facts of its connection, the server simulator's decision, the probe
outcomes, a whitelist, a KOS or an XDS submission. A `Selection` is the profile plus what the
user asked (`--select`, `--ignore`, `--severity CODE=LEVEL`): it reaches every rule, whichever
command runs it, and travels with the Report (`facts["selection"]`) so a re-validation uses
the same one.

    selection = Selection.of("drim-m", ignore=["TLS-013"])
    report = assess("GET /studies/1.2", [(Kind.REQUEST, [subject])], selection, kind="request")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from drimlab.errors import InputError
from drimlab.exchange import PartRecord
from drimlab.validation.findings import Finding, Severity
from drimlab.validation.profiles import Profile, get_profile, resolve, split_codes
from drimlab.validation.report import Report
from drimlab.validation.rules import CATALOGUE, Kind, Rule, load_all
from drimlab.validation.subjects import NotApplicable
from drimlab.version import __version__

#: (kind, subjects) pairs; a third element names a member of a container (an XDM archive)
#: whose findings' locations it prefixes.
Subjects = Sequence[tuple[Kind, Iterable[object]] | tuple[Kind, Iterable[object], str]]
Describe = Callable[[Sequence[Finding]], Mapping[str, Any]]


def parse_severities(values: Iterable[str]) -> dict[str, Severity]:
    """`["TLS-013=error", "WL=warning"]` -> {code: severity} for every rule each names.

    A code or family prefix that matches no rule, or a level other than error, warning and
    info, is an InputError (as for --select and --ignore, nothing is silently dropped).
    """
    load_all()
    out: dict[str, Severity] = {}
    for item in split_codes(values):
        code, sep, level = item.partition("=")
        if not sep:
            raise InputError(f"--severity {item!r}: expected CODE=error|warning|info")
        try:
            severity = Severity(level.strip().lower())
        except ValueError:
            raise InputError(
                f"--severity {item!r}: {level.strip()!r} is not error, warning or info"
            ) from None
        for rule in CATALOGUE.matching(code):
            out[rule.code] = severity
    return out


@dataclass(frozen=True)
class Selection:
    """The rules a validation runs and their severities: a profile plus the user's choices."""

    profile: Profile
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severities: Mapping[str, Severity] = field(default_factory=dict)
    pixel_sample: int | None = None  # parts whose pixels are decoded per response (None: all)

    @classmethod
    def of(
        cls,
        profile: str | Profile | Selection = "drim-m",
        *,
        select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        severities: Iterable[str] | Mapping[str, Severity] = (),
        pixel_sample: int | None = None,
    ) -> Selection:
        """A checked selection (unknown profile, code or level: InputError / UnknownRuleError)."""
        if isinstance(profile, Selection):
            return profile
        if pixel_sample is not None and pixel_sample < 0:
            raise InputError(f"--pixel-sample {pixel_sample}: give 0 (off) or a number of parts")
        chosen = get_profile(profile)
        levels = (
            dict(severities) if isinstance(severities, Mapping) else parse_severities(severities)
        )
        selection = cls(
            chosen, tuple(split_codes(select)), tuple(split_codes(ignore)), levels, pixel_sample
        )
        _ = selection.rules  # resolve now: an unknown code fails here, not in the middle
        return selection

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        return resolve(self.profile, self.select, self.ignore)

    def severity_of(self, rule: Rule) -> Severity | None:
        """The severity this selection imposes on the rule's findings (None: the rule's own)."""
        return self.severities.get(rule.code) or self.profile.severity_of(rule)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "profile": self.profile.name,
            "select": list(self.select),
            "ignore": list(self.ignore),
            "severities": {code: level.value for code, level in sorted(self.severities.items())},
        }
        if self.pixel_sample is not None:
            data["pixel_sample"] = self.pixel_sample
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        sample = data.get("pixel_sample")
        return cls.of(
            str(data.get("profile", "drim-m")),
            select=data.get("select", ()),
            ignore=data.get("ignore", ()),
            severities={str(k): Severity(v) for k, v in (data.get("severities") or {}).items()},
            pixel_sample=None if sample is None else int(sample),
        )


def selection_of_report(report: Report) -> Selection:
    """The selection a stored Report was made with (its profile alone for older reports)."""
    stored = report.facts.get("selection")
    if isinstance(stored, Mapping):
        return Selection.from_dict(stored)
    return Selection.of(report.profile)


def run_rules(
    selection: Selection, kind: Kind, subjects: Iterable[object]
) -> tuple[list[Finding], list[str]]:
    """Run the selection's rules of one subject kind over each subject: findings, rules checked."""
    items = list(subjects)
    findings: list[Finding] = []
    checked: list[str] = []
    for rule in selection.rules:
        if rule.subject != kind:
            continue
        applicable = False
        for item in items:
            try:
                found = list(rule.check(item))
            except NotApplicable:
                continue
            applicable = True
            level = selection.severity_of(rule)
            findings += [replace(f, severity=level) if level else f for f in found]
        if applicable:
            checked.append(rule.code)
    return findings, checked


def _within(member: str, finding: Finding) -> Finding:
    inner = finding.location.path
    where = f"{member}: {inner}" if inner else member
    return replace(finding, location=replace(finding.location, path=where))


def assess(
    subject: str,
    subjects: Subjects,
    selection: Selection | str | Profile = "drim-m",
    *,
    kind: str,
    facts: Mapping[str, Any] | None = None,
    parts: Sequence[PartRecord] = (),
    started_at: datetime | None = None,
    describe: Describe | None = None,
) -> Report:
    """Judge the subjects with the selection's rules and build the Report.

    `subjects` pairs each subject kind with its subjects, in the order the findings should
    read. `kind` names what was assessed (stored with the report). `describe`, when given,
    derives more facts from the findings (e.g. the probe table's result column).
    """
    chosen = Selection.of(selection)
    started = started_at or datetime.now(UTC)
    findings: list[Finding] = []
    checked: list[str] = []
    kinds: list[Kind] = []
    for entry in subjects:
        subject_kind, items = entry[0], entry[1]
        found, done = run_rules(chosen, subject_kind, items)
        if len(entry) == 3:
            found = [_within(entry[2], f) for f in found]
        findings += found
        checked += [code for code in done if code not in checked]
        kinds.append(subject_kind)
    not_checked = [r.code for r in chosen.rules if r.subject in kinds and r.code not in checked]
    all_facts: dict[str, Any] = {"kind": kind, **(facts or {})}
    if describe is not None:
        all_facts.update(describe(findings))
    all_facts["rules_not_checked"] = not_checked
    all_facts["selection"] = chosen.as_dict()
    return Report(
        subject=subject,
        profile=chosen.profile.name,
        findings=tuple(findings),
        rules_checked=tuple(checked),
        tool_version=__version__,
        started_at=started,
        parts=tuple(parts),
        checked_anything=bool(checked),
        facts=all_facts,
    )


def combine(
    subject: str,
    reports: Sequence[Report],
    selection: Selection | str | Profile = "drim-m",
    *,
    kind: str,
    facts: Mapping[str, Any] | None = None,
) -> Report:
    """One Report over several already assessed ones (e.g. the retrievals of a performance
    run): their findings and rules checked, nothing judged again.
    """
    chosen = Selection.of(selection)
    checked = tuple(dict.fromkeys(c for r in reports for c in r.rules_checked))
    return Report(
        subject=subject,
        profile=chosen.profile.name,
        findings=tuple(f for r in reports for f in r.findings),
        rules_checked=checked,
        tool_version=__version__,
        started_at=min((r.started_at for r in reports), default=datetime.now(UTC)),
        checked_anything=any(r.checked_anything for r in reports),
        facts={"kind": kind, **(facts or {}), "selection": chosen.as_dict()},
    )


__all__ = [
    "Describe",
    "Selection",
    "Subjects",
    "assess",
    "combine",
    "parse_severities",
    "run_rules",
    "selection_of_report",
]
