"""The core of validation: findings, rules, catalogue selection, reports."""

from __future__ import annotations

import pytest

from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.report import PartRecord, Report, Verdict
from drimlab.validation.rules import Catalogue, Rule, RuleDoc, UnknownRuleError

DOC = RuleDoc(what="w", why="y", bad="b", good="g")


def _rule(code: str, name: str = "some-fault") -> Rule:
    return Rule(
        code=code,
        name=name,
        severity=Severity.ERROR,
        summary="s",
        doc=DOC,
        references=("PS3.18 §8.7",),
        subject="request",
        check=lambda subject: iter(()),
    )


def test_verdict_follows_errors() -> None:
    warn = Finding("X-001", Severity.WARNING, "w")
    err = Finding("X-002", Severity.ERROR, "e")
    assert Report("s", "p", (warn,), ("X-001",)).verdict is Verdict.PASSED
    assert Report("s", "p", (warn, err), ("X-001",)).verdict is Verdict.FAILED
    assert Report("s", "p", (), (), checked_anything=False).verdict is Verdict.UNDEFINED
    assert Report("s", "p", (err,), (), checked_anything=False).verdict is Verdict.FAILED


def test_report_round_trips_through_json() -> None:
    f = Finding(
        "X-001",
        Severity.WARNING,
        "w",
        Location(header="Accept", part=2),
        expected="a",
        actual="b",
        references=("r",),
    )
    r = Report(
        "s", "drim-m", (f,), ("X-001",), parts=(PartRecord(0, 10, "ab" * 32),), facts={"k": 1}
    )
    back = Report.from_dict(r.as_dict())
    assert back == r
    assert back.as_dict()["counters"]["warning"] == 1


def test_catalogue_rejects_bad_codes_and_names() -> None:
    cat = Catalogue()
    with pytest.raises(ValueError, match="FAMILY-NNN"):
        cat.register(_rule("WADO-RQ-1"))
    with pytest.raises(ValueError, match="kebab"):
        cat.register(_rule("WADO-RQ-001", "Bad_Name"))


def test_selection_by_code_or_prefix_and_unknown_is_an_error() -> None:
    cat = Catalogue()
    for code in ("WADO-RQ-001", "WADO-RQ-002", "WADO-RS-001"):
        cat.register(_rule(code))
    assert [r.code for r in cat.matching("WADO-RQ")] == ["WADO-RQ-001", "WADO-RQ-002"]
    assert [r.code for r in cat.matching("wado-rs-001")] == ["WADO-RS-001"]
    with pytest.raises(UnknownRuleError):
        cat.matching("NOPE-001")
    with pytest.raises(UnknownRuleError):
        cat["NOPE-001"]


def test_rule_builds_its_own_findings() -> None:
    f = _rule("WADO-RQ-003").finding("bad", Location(header="Accept"), actual="x")
    assert (f.rule, f.severity, f.references) == ("WADO-RQ-003", Severity.ERROR, ("PS3.18 §8.7",))
