"""The entry point of the EVIDENCE rules: judge a bundle signature's facts into a Report."""

from __future__ import annotations

from drimlab.facts.evidence import BundleSignatureFacts
from drimlab.validation.assess import Selection, assess
from drimlab.validation.profiles import Profile
from drimlab.validation.report import Report
from drimlab.validation.rules import Kind

Chosen = str | Profile | Selection


def validate_bundle_signature(facts: BundleSignatureFacts, profile: Chosen = "drim-m") -> Report:
    """Who signed a bundle and whether the monitor may believe it: one Report."""
    signer = facts.signer
    summary = {
        "evidence": {
            "bundle": facts.bundle,
            "verified_at": facts.verified_at.isoformat(),
            "signer": None if signer is None else signer.subject,
            "attestation": facts.attestation.value,
        },
        "evidence_facts": facts.as_dict(),
    }
    return assess(
        facts.bundle,
        [(Kind.EVIDENCE, [facts])],
        Selection.of(profile),
        kind="evidence",
        facts=summary,
    )
