"""A whitelist verified through the one verdict path: its facts, judged by the WL rules.

`verify_whitelist` reads and inspects a list (`inspect_whitelist`) and has the WL rules judge
the facts (`validate_whitelist`); `ok` is the Report's verdict, never a second judgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from drimlab.facts.whitelist import ANS_SIGNER, SignerExpectation, WhitelistFacts
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import Whitelist, WhitelistInspection, inspect_whitelist
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_whitelist
from drimlab.validation.findings import Finding
from drimlab.validation.profiles import Profile
from drimlab.validation.report import Report, Verdict


@dataclass(frozen=True)
class WhitelistCheck:
    """A list's inspection and the Report the WL rules made of it."""

    inspection: WhitelistInspection
    report: Report

    @property
    def ok(self) -> bool:
        return self.report.verdict is Verdict.PASSED

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.report.findings

    @property
    def facts(self) -> WhitelistFacts:
        return self.inspection.facts

    @property
    def document(self) -> Whitelist | None:
        return self.inspection.document


def verify_whitelist(
    source: bytes | Path,
    *,
    anchors: Sequence[x509.Certificate] = (),
    crl: RevocationList | None = None,
    expected: SignerExpectation | None = ANS_SIGNER,
    at: datetime | None = None,
    label: str | None = None,
    profile: str | Profile | Selection = "drim-m",
) -> WhitelistCheck:
    """Inspect the list at time `at` and judge it with the selection's WL rules."""
    inspection = inspect_whitelist(
        source, anchors=anchors, crl=crl, expected=expected, at=at, label=label
    )
    return WhitelistCheck(inspection, validate_whitelist(inspection.facts, profile))
