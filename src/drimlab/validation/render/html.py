"""A Report as one self-contained HTML page: inline CSS, no script, everything escaped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import jinja2

from drimlab.validation.findings import Severity
from drimlab.validation.render.labels import translator
from drimlab.validation.render.outcomes import RuleOutcome, grouped, rule_outcomes
from drimlab.validation.render.sanitize import xml_text
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import Catalogue

_VERDICT_NOTES = {
    Verdict.PASSED: "checked, no error found",
    Verdict.FAILED: "at least one error found",
    Verdict.UNDEFINED: "nothing could be checked",
}


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of drimlab's HTML pages: autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drimlab.validation.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["clean"] = xml_text
    return env


@dataclass(frozen=True)
class _RuleRow:
    code: str
    name: str | None
    status: str
    count: int
    references: tuple[str, ...]


def _row(outcome: RuleOutcome, catalogue: Catalogue | None) -> _RuleRow:
    if outcome.failed:
        status = "failed"
    elif outcome.of_severity(Severity.WARNING):
        status = "warning"
    elif outcome.checked:
        status = "passed"
    else:
        status = "not-run"
    refs: dict[str, None] = {}
    if catalogue is not None and outcome.code in catalogue:
        refs.update(dict.fromkeys(catalogue[outcome.code].references))
    for finding in outcome.findings:
        refs.update(dict.fromkeys(finding.references))
    return _RuleRow(outcome.code, outcome.name, status, len(outcome.findings), tuple(refs))


def render_html(report: Report, catalogue: Catalogue | None = None, *, language: str = "en") -> str:
    """The report as a single HTML page a monitor can open offline or attach as evidence.

    `language` (en or fr) is the language of the page's own words; findings stay as made.
    """
    t = translator(language)
    findings = grouped(sorted(report.findings, key=lambda f: f.severity.rank))
    probes = report.facts.get("probes")
    burst = report.facts.get("burst")
    seconds = (report.finished_at - report.started_at).total_seconds()
    facts = [
        (str(key), json.dumps(value, ensure_ascii=False, default=str))
        for key, value in sorted(report.facts.items(), key=lambda kv: str(kv[0]))
    ]
    template = environment().get_template("report.html.j2")
    return template.render(
        report=report,
        verdict=report.verdict.value,
        verdict_note=t(_VERDICT_NOTES[report.verdict]),
        t=t,
        lang="fr" if language == "fr" else "en",
        counters=report.counters,
        duration=f"{seconds:.3f} s",
        findings=findings,
        probes=[p for p in probes if isinstance(p, dict)] if isinstance(probes, list) else [],
        burst=burst if isinstance(burst, dict) else None,
        outcomes=[_row(o, catalogue) for o in rule_outcomes(report, catalogue)],
        facts=facts,
    )
