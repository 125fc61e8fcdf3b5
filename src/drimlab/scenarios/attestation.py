"""The monitor's judgement of who signed a bundle: facts recorded, the EVIDENCE rules judge.

`judge_signature` reads manifest.sig and signer.pem, has `signing.inspect_signature` record
the facts at the verifier's own clock against what the monitor trusts, and returns the
EVIDENCE Report with the `Attestation` it establishes: a programme's environment (a signer
the monitor pinned) or a self-attested local bench. Error findings fail the bundle.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drimlab.facts.evidence import Attestation, BundleSignatureFacts
from drimlab.scenarios.signing import MonitorTrust, inspect_signature
from drimlab.validation.bundle import validate_bundle_signature
from drimlab.validation.findings import Severity
from drimlab.validation.report import Report

#: What the monitor page and `evidence verify` say about who vouches for a bundle.
ATTESTATION_TEXT = {
    Attestation.PROGRAMME: {
        "en": "independent attestation: signed by an environment the monitor pinned ({label})",
        "fr": "attestation indépendante : signé par un environnement épinglé par le "
        "contrôleur ({label})",
    },
    Attestation.SELF_ATTESTED: {
        "en": "self-attested: signed by a local bench's own key, which whoever ran the bench "
        "holds; not an independent attestation",
        "fr": "auto-attesté : signé par la clé du banc local, que détient quiconque l'a "
        "exécuté ; ce n'est pas une attestation indépendante",
    },
}


@dataclass(frozen=True)
class SignatureJudgement:
    """The EVIDENCE Report of a bundle's signature, and who (if anyone) vouches for it."""

    facts: BundleSignatureFacts
    report: Report

    @property
    def failures(self) -> list[str]:
        return [
            f"{f.rule} {f.message}" for f in self.report.findings if f.severity is Severity.ERROR
        ]

    @property
    def notices(self) -> list[str]:
        return [
            f"{f.rule} {f.message}"
            for f in self.report.findings
            if f.severity is not Severity.ERROR
        ]

    @property
    def trusted(self) -> bool:
        return not self.failures and self.facts.signer is not None

    def attestation(self, language: str = "en") -> dict[str, Any] | None:
        """Who signed and what that is worth, in `language` (None: the signature failed)."""
        signer = self.facts.signer
        if not self.trusted or signer is None:
            return None
        kind = self.facts.attestation
        label = self.facts.pinned.label if self.facts.pinned is not None else signer.subject
        texts = ATTESTATION_TEXT[kind]
        return {
            "kind": kind.value,
            "signer": signer.subject,
            "issuer": signer.issuer,
            "serial": signer.serial,
            "sha256": signer.sha256,
            "label": label,
            "text": texts.get(language, texts["en"]).format(label=label),
            "texts": {lang: text.format(label=label) for lang, text in texts.items()},
        }


def judge_signature(
    bundle: str,
    manifest_bytes: bytes,
    manifest: Mapping[str, Any],
    members: Mapping[str, bytes],
    trust: MonitorTrust,
) -> SignatureJudgement:
    """Judge the signature of a manifest from the bundle's meta members."""
    signature: bytes | None = None
    if "manifest.sig" in members:
        try:
            signature = base64.b64decode(members["manifest.sig"], validate=False)
        except (binascii.Error, ValueError):
            signature = b""
    chain = members.get("signer.pem")
    claimed = manifest.get("created_at")
    facts = inspect_signature(
        bundle,
        manifest_bytes,
        signature if chain is not None else None,
        chain if signature is not None else None,
        trust,
        claimed_at=None if claimed is None else str(claimed),
    )
    return SignatureJudgement(facts, validate_bundle_signature(facts))
