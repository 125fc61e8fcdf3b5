"""Every rule is documented (what / why / bad / good, references), and docs/rules.md is fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.validation.findings import Severity
from drimlab.validation.render import doc_problems, render_catalogue
from drimlab.validation.render.catalogue import REGENERATE
from drimlab.validation.rules import Catalogue, Kind, Rule, RuleDoc, load_all

RULES_MD = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def _rule(code: str, name: str, doc: RuleDoc, references: tuple[str, ...] = ("r",)) -> Rule:
    return Rule(
        code, name, Severity.ERROR, "summary", doc, references, Kind.REQUEST, lambda s: iter(())
    )


FULL = RuleDoc("what", "why", "bad", "good")


def test_doc_problems_finds_every_kind_of_gap() -> None:
    cat = Catalogue()
    cat.register(_rule("A-001", "fine", FULL))
    cat.register(_rule("A-002", "no-why", RuleDoc("what", " ", "bad", "good")))
    cat.register(_rule("A-003", "no-examples", RuleDoc("what", "why", "", "\n")))
    cat.register(_rule("A-004", "no-refs", FULL, references=()))
    cat.register(_rule("B-001", "fine", FULL))
    assert doc_problems(cat) == [
        "A-002: empty doc heading 'why'",
        "A-003: empty doc heading 'bad'",
        "A-003: empty doc heading 'good'",
        "A-004: no reference",
        "B-001: name 'fine' is already A-001's",
    ]


def test_doc_problems_finds_a_code_given_twice() -> None:
    rules = [_rule("A-001", "one", FULL), _rule("A-001", "one", FULL)]
    assert doc_problems(rules) == ["A-001: code registered twice"]


def test_a_documented_catalogue_has_no_problem() -> None:
    cat = Catalogue()
    cat.register(_rule("A-001", "one", FULL))
    cat.register(_rule("A-002", "two", FULL))
    assert doc_problems(cat) == []


def test_every_real_rule_is_documented() -> None:
    catalogue = load_all()
    assert doc_problems(catalogue) == []
    names = [rule.name for rule in catalogue]
    assert len(names) == len(set(names))
    codes = [rule.code for rule in catalogue]
    assert len(codes) == len(set(codes))


def test_docs_rules_md_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    expected = render_catalogue(load_all(), "markdown")
    stale = f"docs/rules.md is stale: regenerate it with `{REGENERATE}`"
    assert RULES_MD.read_bytes().decode("utf-8") == expected, stale
    assert run(["rules", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == expected


def test_docs_rules_md_documents_every_rule() -> None:
    text = RULES_MD.read_text(encoding="utf-8")
    for rule in load_all():
        assert f"### {rule.code} `{rule.name}`" in text
