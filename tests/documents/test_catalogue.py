"""The document rule families are documented, in the drim-m profile, and each has a fixture."""

from __future__ import annotations

import pytest

from drimlab.validation.profiles import DICOMWEB, DRIM_M
from drimlab.validation.rules import load_all

from .conftest import FIXTURES

FAMILIES = ("KOS", "XDS", "XVAL", "XDM")


@pytest.mark.parametrize("family", FAMILIES)
def test_family_is_documented_and_in_drim_m_only(family: str) -> None:
    rules = load_all().matching(family + "-")
    assert rules
    for rule in rules:
        assert rule.doc.missing() == [], rule.code
        assert rule.references, rule.code
        assert DRIM_M.includes(rule.code)
        assert not DICOMWEB.includes(rule.code)


def test_every_document_rule_has_a_fixture_named_after_it() -> None:
    names = {p.name for p in FIXTURES.rglob("*") if p.is_file()}
    for family in FAMILIES:
        for rule in load_all().matching(family + "-"):
            prefix = f"{rule.code}-{rule.name}"
            assert any(n.startswith(prefix) for n in names), prefix
