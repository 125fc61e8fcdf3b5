"""Facts of an evidence bundle's signature, as the monitor's verification found them.

`drimlab.scenarios.signing.inspect_signature` records, for the manifest's signature: whether
it is there and verifies, who signed (the leaf of `signer.pem`), what that certificate is for
(CA or not, its extended key usages), whether the monitor pinned it, whether it chains to
the monitor's anchors and whether the monitor's CRL revokes it. Times are the verifier's:
`verified_at` is the verifier's own clock (the manifest's `created_at` is only a claim of the
exporter, kept as `claimed_at`). The EVIDENCE rules judge these facts. A step that was not
reached leaves its facts at None: the rules that need them are then not applicable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from drimlab.facts.tls import CertificateFacts, Revocation
from drimlab.facts.whitelist import ChainCheck

#: id-kp-documentSigning (RFC 9336), carried by the test PKI's evidence signer.
DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"


class Attestation(StrEnum):
    """Who vouches for a bundle: an environment the monitor pinned, or the bench that ran."""

    PROGRAMME = "programme"  # a signer pinned in the monitor's configuration
    SELF_ATTESTED = "self-attested"  # a local bench: whoever ran it holds its keys


@dataclass(frozen=True)
class PinnedSigner:
    """A signer the monitor trusts by name: its certificate's SHA-256 and what it is."""

    sha256: str
    label: str

    def as_dict(self) -> dict[str, str]:
        return {"sha256": self.sha256, "label": self.label}


@dataclass(frozen=True)
class BundleSignatureFacts:
    """A bundle's manifest signature and its signer, each step's finding."""

    bundle: str
    verified_at: datetime
    claimed_at: str | None = None
    signed: bool = False
    signer_problem: str | None = None
    signature_verified: bool | None = None
    signer: CertificateFacts | None = None
    signer_is_ca: bool = False
    pinned: PinnedSigner | None = None
    chain: ChainCheck = ChainCheck.UNCHECKED
    chain_problem: str = ""
    revocation: Revocation = Revocation.UNCHECKED
    revocation_detail: str = ""

    @property
    def evidence_usage(self) -> bool:
        """The signer carries documentSigning (an extended key usage naming that purpose)."""
        usages = self.signer.extended_key_usages if self.signer is not None else None
        return usages is not None and DOCUMENT_SIGNING in usages

    @property
    def attestation(self) -> Attestation:
        return Attestation.PROGRAMME if self.pinned is not None else Attestation.SELF_ATTESTED

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "verified_at": self.verified_at.isoformat(),
            "claimed_at": self.claimed_at,
            "signed": self.signed,
            "signer_problem": self.signer_problem,
            "signature_verified": self.signature_verified,
            "signer": None if self.signer is None else self.signer.as_dict(),
            "signer_is_ca": self.signer_is_ca,
            "pinned": None if self.pinned is None else self.pinned.as_dict(),
            "chain": self.chain.value,
            "chain_problem": self.chain_problem,
            "revocation": self.revocation.value,
            "revocation_detail": self.revocation_detail,
            "attestation": self.attestation.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleSignatureFacts:
        signer = data.get("signer")
        pinned = data.get("pinned")
        return cls(
            bundle=str(data.get("bundle", "")),
            verified_at=datetime.fromisoformat(str(data["verified_at"])),
            claimed_at=data.get("claimed_at"),
            signed=bool(data.get("signed", False)),
            signer_problem=data.get("signer_problem"),
            signature_verified=data.get("signature_verified"),
            signer=None if signer is None else CertificateFacts.from_dict(signer),
            signer_is_ca=bool(data.get("signer_is_ca", False)),
            pinned=None if pinned is None else PinnedSigner(**pinned),
            chain=ChainCheck(data.get("chain", "unchecked")),
            chain_problem=str(data.get("chain_problem", "")),
            revocation=Revocation(data.get("revocation", "unchecked")),
            revocation_detail=str(data.get("revocation_detail", "")),
        )
