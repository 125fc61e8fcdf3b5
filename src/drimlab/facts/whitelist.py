"""Facts of a DRIM-M whitelist document and of its signature, as verification found them.

`drimlab.trust.whitelist.inspect_whitelist` reads the list, runs the signature verification
(xmlsec), the XAdES binding, the chain and the CRL lookups, and records what each step found
here; the WL rules judge these facts. A step that could not be reached (no signature, a
signature over part of the document...) leaves its facts at None: the rules that need them
are then not applicable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from drimlab.facts.tls import CertificateFacts, Revocation


class ChainCheck(StrEnum):
    """Whether the signer's chain was checked against configured anchors, and its result."""

    UNCHECKED = "unchecked"
    VERIFIED = "verified"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class SignerExpectation:
    """Who must have signed the list: CN and OU of the signer certificate."""

    common_name: str
    organisational_unit: str


#: The ANS's whitelist signer (DRIM-M.md; ansforge/DRIM-M_DATA informatif/listeblanche).
ANS_SIGNER = SignerExpectation("Liste Blanche DRIM-M", "318751275100020")


@dataclass(frozen=True)
class WhitelistFacts:
    """A list and its signature: each step's finding, None where the step was not reached."""

    source: str
    at: datetime
    malformed: str | None = None
    domains: int = 0
    signatures: int = 0
    scope_problem: str | None = None
    signature_error: str | None = None
    signature_verified: bool | None = None
    signer: CertificateFacts | None = None
    signing_time: str | None = None
    signing_certificate_problem: str | None = None
    expected_signer: SignerExpectation | None = None
    chain: ChainCheck = ChainCheck.UNCHECKED
    chain_problem: str = ""
    revocation: Revocation = Revocation.UNCHECKED
    revocation_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        expected = self.expected_signer
        return {
            "source": self.source,
            "at": self.at.isoformat(),
            "malformed": self.malformed,
            "domains": self.domains,
            "signatures": self.signatures,
            "scope_problem": self.scope_problem,
            "signature_error": self.signature_error,
            "signature_verified": self.signature_verified,
            "signer": None if self.signer is None else self.signer.as_dict(),
            "signing_time": self.signing_time,
            "signing_certificate_problem": self.signing_certificate_problem,
            "expected_signer": None
            if expected is None
            else {
                "common_name": expected.common_name,
                "organisational_unit": expected.organisational_unit,
            },
            "chain": self.chain.value,
            "chain_problem": self.chain_problem,
            "revocation": self.revocation.value,
            "revocation_detail": self.revocation_detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WhitelistFacts:
        signer = data.get("signer")
        expected = data.get("expected_signer")
        return cls(
            source=str(data.get("source", "")),
            at=datetime.fromisoformat(str(data["at"])),
            malformed=data.get("malformed"),
            domains=int(data.get("domains", 0)),
            signatures=int(data.get("signatures", 0)),
            scope_problem=data.get("scope_problem"),
            signature_error=data.get("signature_error"),
            signature_verified=data.get("signature_verified"),
            signer=None if signer is None else CertificateFacts.from_dict(signer),
            signing_time=data.get("signing_time"),
            signing_certificate_problem=data.get("signing_certificate_problem"),
            expected_signer=None if expected is None else SignerExpectation(**expected),
            chain=ChainCheck(data.get("chain", "unchecked")),
            chain_problem=str(data.get("chain_problem", "")),
            revocation=Revocation(data.get("revocation", "unchecked")),
            revocation_detail=str(data.get("revocation_detail", "")),
        )
