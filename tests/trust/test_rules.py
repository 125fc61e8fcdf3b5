"""The TLS and WL rules are catalogued, documented, and the codes the bench emits exist."""

from __future__ import annotations

import re

from drimlab.trust.pki import Pki
from drimlab.validation.rules import load_all


def test_trust_rules_are_documented() -> None:
    catalogue = load_all()
    trust = [r for r in catalogue if r.family in {"TLS", "WL"}]
    assert len(trust) >= 20
    for rule in trust:
        assert rule.doc.missing() == [], rule.code
        assert rule.references, rule.code
        assert callable(rule.check)  # a check over the TLS / whitelist facts, like any rule


def test_expected_refusals_in_the_manifest_name_real_rules(pki: Pki) -> None:
    catalogue = load_all()
    for entry in pki.entries:
        found = re.search(r"\b((?:TLS|WL)-\d{3}) ([a-z0-9-]+)", entry.expect)
        if found:
            assert catalogue[found.group(1)].name == found.group(2)
