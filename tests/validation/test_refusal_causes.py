"""Every cause of a refusal is reported: each `Cause` but SERVED by exactly one REFUSAL rule."""

from __future__ import annotations

from drimlab.facts.decision import Cause, Decision
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.refusal import ADVICE, CAUSES
from drimlab.validation.subjects import DecisionSubject


def test_every_cause_but_served_belongs_to_exactly_one_rule() -> None:
    owners = {c: [code for code, causes in CAUSES.items() if c in causes] for c in Cause}
    assert owners.pop(Cause.SERVED) == []
    assert {cause: codes for cause, codes in owners.items() if len(codes) != 1} == {}


def test_every_cause_says_what_to_change() -> None:
    assert {c for c in Cause if c is not Cause.SERVED} - set(ADVICE) == set()


def test_each_rule_reports_its_causes_with_the_advice() -> None:
    from drimlab.exchange import Exchange

    for code, causes in CAUSES.items():
        rule = CATALOGUE[code]
        for cause in causes:
            decision = Decision(400, cause, "detail")
            findings = list(rule.check(DecisionSubject(decision, Exchange(origin="server"))))
            assert [f.rule for f in findings] == [code]
            assert cause.value in findings[0].message and ADVICE[cause] in findings[0].message
