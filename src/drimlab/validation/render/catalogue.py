"""The rule catalogue as text, JSON, Markdown (docs/rules.md) or HTML, and its doc checks."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable

from drimlab.errors import InputError
from drimlab.validation.render.html import environment
from drimlab.validation.render.outcomes import family_of
from drimlab.validation.rules import Rule

CATALOGUE_FORMATS: tuple[str, ...] = ("text", "json", "markdown", "html")
REGENERATE = "drimlab rules --format markdown > docs/rules.md"
_HEADINGS = (
    ("what", "What it checks"),
    ("why", "Why it matters"),
    ("bad", "Bad"),
    ("good", "Good"),
)


def doc_problems(rules: Iterable[Rule]) -> list[str]:
    """Why the catalogue's docs are not publishable: missing headings, refs, shared names."""
    problems = []
    names: dict[str, str] = {}
    codes: set[str] = set()
    for rule in rules:
        if rule.code in codes:
            problems.append(f"{rule.code}: code registered twice")
        codes.add(rule.code)
        problems.extend(f"{rule.code}: empty doc heading {h!r}" for h in rule.doc.missing())
        if not rule.summary.strip():
            problems.append(f"{rule.code}: empty summary")
        if not any(ref.strip() for ref in rule.references):
            problems.append(f"{rule.code}: no reference")
        other = names.setdefault(rule.name, rule.code)
        if other != rule.code:
            problems.append(f"{rule.code}: name {rule.name!r} is already {other}'s")
    return problems


def _families(rules: list[Rule]) -> list[tuple[str, list[Rule]]]:
    groups: dict[str, list[Rule]] = {}
    for rule in rules:
        groups.setdefault(family_of(rule.code), []).append(rule)
    return list(groups.items())


def render_catalogue(catalogue: Iterable[Rule], fmt: str) -> str:
    """Rules (a Catalogue or a selection of it) in `fmt`, one of CATALOGUE_FORMATS."""
    rules = sorted(catalogue, key=lambda r: r.code)
    if fmt == "text":
        return _text(rules)
    if fmt == "json":
        data = {"schema": "drimlab-rules/1", "rules": [r.as_dict() for r in rules]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        # a docs file holds no CR, even where an example shows a CRLF-framed HTTP message
        return _markdown(rules).replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "html":
        template = environment().get_template("catalogue.html.j2")
        return template.render(rules=rules, families=_families(rules))
    raise InputError(
        f"unknown catalogue format {fmt!r}; choose one of {', '.join(CATALOGUE_FORMATS)}"
    )


def _indent(text: str) -> str:
    return textwrap.indent(text.strip("\n"), "    ")


def rule_text(rule: Rule) -> str:
    """One rule's full documentation as terminal text."""
    lines = [
        f"{rule.code}  {rule.name}  ({rule.severity.value}, {rule.subject})",
        rule.summary,
    ]
    for key, heading in _HEADINGS:
        lines += ["", heading, _indent(getattr(rule.doc, key))]
    lines += ["", "References", *(f"    - {ref}" for ref in rule.references)]
    return "\n".join(lines) + "\n"


def _text(rules: list[Rule]) -> str:
    if not rules:
        return "No rule is registered.\n"
    if len(rules) == 1:
        return rule_text(rules[0])
    code_w = max(len(r.code) for r in rules)
    name_w = max(len(r.name) for r in rules)
    lines = [
        f"{r.code.ljust(code_w)}  {r.severity.value.ljust(7)}  {r.name.ljust(name_w)}  {r.summary}"
        for r in rules
    ]
    lines.append(f"\n{len(rules)} rules. `drimlab rules CODE` shows one rule's documentation.")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _fence(text: str) -> list[str]:
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence + "text", text.strip("\n"), fence]


def _markdown(rules: list[Rule]) -> str:
    out = [
        "<!-- Generated from the rule catalogue: do not edit by hand. -->",
        f"<!-- Regenerate with: {REGENERATE} -->",
        "",
        "# Rule catalogue",
        "",
        f"This file is generated from the rule catalogue. Regenerate it with `{REGENERATE}`;",
        "a test fails when it is stale.",
        "",
    ]
    if not rules:
        return "\n".join([*out, "No rule is registered.", ""])
    families = _families(rules)
    out += [
        f"{len(rules)} rules in {len(families)} families.",
        "",
        "| Code | Name | Severity | Subject | Summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| [{r.code}](#{r.code.lower()}) | `{r.name}` | {r.severity.value} | "
        f"{_cell(r.subject)} | {_cell(r.summary)} |"
        for r in rules
    ]
    for family, members in families:
        out += ["", f"## {family}"]
        for rule in members:
            out += [
                "",
                f'<a id="{rule.code.lower()}"></a>',
                "",
                f"### {rule.code} `{rule.name}`",
                "",
                f"**Severity:** {rule.severity.value} · **Subject:** {rule.subject}",
                "",
                rule.summary.strip(),
            ]
            for key, heading in _HEADINGS:
                body = getattr(rule.doc, key)
                out += ["", f"#### {heading}", ""]
                out += _fence(body) if key in ("bad", "good") else [body.strip()]
            out += ["", "#### References", ""]
            out += [f"- {ref}" for ref in rule.references]
    return "\n".join(out) + "\n"
