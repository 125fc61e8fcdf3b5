"""EVIDENCE-001..010: who signed an evidence bundle, and whether a monitor may believe it.

Every rule judges the `BundleSignatureFacts` the monitor's verification recorded
(`drimlab.scenarios.signing.inspect_signature`): the signature, the signer's certificate and
purpose, the monitor's pins, anchors and CRL, all at the verifier's own clock. Only a
designated evidence signer (documentSigning, RFC 9336, issued under the monitor's anchors) or
a signer the monitor pinned may sign; a bundle signed by anyone else is FAILED naming the
signer. A signer the monitor did not pin is a local bench's own key: its bundle is
self-attested (EVIDENCE-010), whoever ran the bench holds that key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from drimlab.facts.evidence import DOCUMENT_SIGNING, BundleSignatureFacts
from drimlab.facts.tls import CertificateFacts, Revocation
from drimlab.facts.whitelist import ChainCheck
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.references import RFC5280_CRL, RFC5280_PATH
from drimlab.validation.rules import CATALOGUE, Kind, Rule, declare
from drimlab.validation.subjects import NotApplicable

LOC = Location(path="manifest.sig")
E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
RFC9336 = "RFC 9336 (id-kp-documentSigning)"
RFC5280_EKU = "RFC 5280 §4.2.1.12 (extended key usage)"
BUNDLE = "drimlab evidence bundle format drimlab-evidence/1 (docs/scenarios.md)"
CLOCK_SKEW = timedelta(minutes=5)


def _rule(code: str, name: str, severity: Severity, summary: str, **doc: Any) -> Rule:
    return declare(code, name, severity, summary, subject=Kind.EVIDENCE, **doc)


def _signer(facts: BundleSignatureFacts) -> CertificateFacts:
    """The signer of a signature that verified (earlier failures: not applicable)."""
    if not facts.signature_verified or facts.signer is None:
        raise NotApplicable
    return facts.signer


def _name(signer: CertificateFacts) -> str:
    return f"{signer.subject} (serial {signer.serial}, issued by {signer.issuer})"


def unsigned(facts: BundleSignatureFacts) -> Iterator[Finding]:
    rule = CATALOGUE["EVIDENCE-001"]
    if not facts.signed:
        yield rule.finding("the manifest is not signed (manifest.sig or signer.pem missing)", LOC)
    elif facts.signer_problem is not None:
        yield rule.finding(f"the signer cannot be read: {facts.signer_problem}", LOC)


def signature_invalid(facts: BundleSignatureFacts) -> Iterator[Finding]:
    if facts.signature_verified is None:
        raise NotApplicable
    if not facts.signature_verified:
        yield CATALOGUE["EVIDENCE-002"].finding(
            "the manifest signature does not verify with the key of signer.pem "
            "(manifest.json was altered, or signed by another key)",
            LOC,
        )


def signer_is_ca(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    if facts.signer_is_ca:
        yield CATALOGUE["EVIDENCE-004"].finding(
            f"the bundle is signed by the CA certificate {_name(signer)}: a CA issues "
            "certificates, it never signs evidence",
            LOC,
            actual=signer.subject,
        )


def signer_not_designated(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    if facts.signer_is_ca or facts.pinned is not None or facts.evidence_usage:
        return
    usages = signer.extended_key_usages
    shown = "none (any purpose)" if usages is None else ", ".join(usages) or "none"
    yield CATALOGUE["EVIDENCE-003"].finding(
        f"the bundle is signed by {_name(signer)}, which is not an evidence signer: its "
        f"extended key usages are {shown}, and the monitor did not pin it",
        LOC,
        expected=f"extendedKeyUsage {DOCUMENT_SIGNING} (documentSigning), or a pinned signer",
        actual=shown,
    )


def signer_untrusted(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    if facts.pinned is not None:
        return  # the pin is the monitor's trust in that very certificate
    if not signer.not_before <= facts.verified_at <= signer.not_after:
        return  # an out-of-date signer is EVIDENCE-006's, whatever its chain
    if facts.chain is ChainCheck.UNTRUSTED:
        yield CATALOGUE["EVIDENCE-005"].finding(
            f"the signer {_name(signer)} does not chain to the monitor's anchors: "
            f"{facts.chain_problem}",
            LOC,
        )
    elif facts.chain is ChainCheck.UNCHECKED:
        yield CATALOGUE["EVIDENCE-005"].finding(
            f"the signer {_name(signer)} is neither pinned nor checked against any anchor: "
            "nothing the monitor holds vouches for it",
            LOC,
        )


def signer_expired(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    at = facts.verified_at
    if at > signer.not_after:
        problem = f"expired on {signer.not_after.isoformat()}"
    elif at < signer.not_before:
        problem = f"not valid before {signer.not_before.isoformat()}"
    else:
        return
    yield CATALOGUE["EVIDENCE-006"].finding(
        f"the signer {_name(signer)} is {problem} at the verifier's time {at.isoformat()} "
        "(the manifest's own date is the exporter's claim and is not used)",
        LOC,
        expected=f"valid at {at.isoformat()}",
        actual=f"{signer.not_before.isoformat()} to {signer.not_after.isoformat()}",
    )


def signer_revoked(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    if facts.revocation is Revocation.REVOKED:
        yield CATALOGUE["EVIDENCE-007"].finding(
            f"the signer {_name(signer)} is revoked: {facts.revocation_detail}", LOC
        )


def revocation_unknown(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    rule = CATALOGUE["EVIDENCE-008"]
    if facts.revocation is Revocation.UNCHECKED:
        yield rule.finding(f"no CRL given: the revocation of {signer.subject} was not checked", LOC)
    elif facts.revocation is Revocation.UNKNOWN:
        yield rule.finding(
            f"the revocation of {signer.subject} is unknown: {facts.revocation_detail}", LOC
        )


def signing_time_implausible(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    rule = CATALOGUE["EVIDENCE-009"]
    try:
        claimed = datetime.fromisoformat(str(facts.claimed_at))
    except ValueError:
        yield rule.finding(f"created_at {str(facts.claimed_at)[:40]!r} is not a date", LOC)
        return
    if claimed.tzinfo is None:
        yield rule.finding(f"created_at {facts.claimed_at} has no time zone", LOC)
        return
    if claimed > facts.verified_at + CLOCK_SKEW:
        yield rule.finding(
            f"the manifest claims it was made on {claimed.isoformat()}, after the verifier's "
            f"time {facts.verified_at.isoformat()}",
            LOC,
        )
    elif claimed < signer.not_before:
        yield rule.finding(
            f"the manifest claims it was made on {claimed.isoformat()}, before its signer "
            f"{signer.subject} existed (valid from {signer.not_before.isoformat()})",
            LOC,
        )


def self_attested(facts: BundleSignatureFacts) -> Iterator[Finding]:
    signer = _signer(facts)
    if facts.pinned is None:
        yield CATALOGUE["EVIDENCE-010"].finding(
            f"self-attested: signed by {signer.subject}, a key the monitor did not pin (a local "
            "bench's own evidence signer: whoever ran the bench holds it). Not an independent "
            "attestation",
            LOC,
        )


_rule(
    "EVIDENCE-001",
    "evidence-unsigned",
    E,
    "An evidence bundle's manifest must be signed, with its signer's certificate",
    what="The bundle holds manifest.sig and signer.pem, and signer.pem is a PEM chain whose "
    "first certificate has an RSA or EC key.",
    why="An unsigned manifest can be rewritten by anyone: its file hashes prove nothing.",
    bad="evidence.zip without manifest.sig",
    good="manifest.json, manifest.sig (base64), signer.pem (leaf first)",
    references=(BUNDLE,),
    check=unsigned,
)
_rule(
    "EVIDENCE-002",
    "evidence-signature-invalid",
    E,
    "The manifest signature must verify with the signer's key",
    what="manifest.sig is an RSA PKCS#1 v1.5 or ECDSA SHA-256 signature of manifest.json's exact "
    "bytes by the key of signer.pem's first certificate.",
    why="A signature that does not verify means the manifest changed after signing.",
    bad="manifest.json edited (base URL changed) after export",
    good="manifest.json exactly as exported",
    references=(BUNDLE,),
    check=signature_invalid,
)
_rule(
    "EVIDENCE-003",
    "evidence-signer-not-designated",
    E,
    "Only a designated evidence signer (documentSigning) or a pinned signer may sign evidence",
    what="The signer's certificate carries extendedKeyUsage id-kp-documentSigning "
    f"({DOCUMENT_SIGNING}), or its SHA-256 is pinned in the monitor's configuration.",
    why="`drimlab start` hands the consumer key to every vendor, and TLS or whitelist keys "
    "live on many machines: a bundle re-signed with one of them after its system under test "
    "was changed would otherwise verify. A signer made for this one purpose cannot be "
    "mistaken for another.",
    bad="signer.pem: CN=consumer.drimlab.test, extendedKeyUsage serverAuth, clientAuth",
    good="signer.pem: CN=TEST Banc DRIMLAB Preuves, extendedKeyUsage documentSigning",
    references=(RFC9336, RFC5280_EKU, BUNDLE),
    check=signer_not_designated,
)
_rule(
    "EVIDENCE-004",
    "evidence-signer-is-ca",
    E,
    "A CA certificate never signs evidence",
    what="The signer's certificate is not a CA (basicConstraints cA false, no keyCertSign).",
    why="Whoever holds a CA key can issue any certificate; evidence signed by it names no "
    "bench, no environment.",
    bad="signer.pem: CN=TEST AC DRIMLAB ORGANISATIONS (cA true)",
    good="signer.pem: CN=TEST Banc DRIMLAB Preuves (end entity)",
    references=("RFC 5280 §4.2.1.9 (basic constraints)", BUNDLE),
    check=signer_is_ca,
)
_rule(
    "EVIDENCE-005",
    "evidence-signer-untrusted",
    E,
    "The signer must chain to the monitor's anchors, or be pinned",
    what="An unpinned signer's chain is built from signer.pem to one of the monitor's anchors, "
    "each certificate valid at the verifier's time.",
    why="A certificate with the right purpose from an unknown CA is anyone's.",
    bad="signer.pem issued by a look-alike CA with the same name",
    good="signer.pem issued by the monitor's anchor",
    references=(RFC5280_PATH, BUNDLE),
    check=signer_untrusted,
)
_rule(
    "EVIDENCE-006",
    "evidence-signer-expired",
    E,
    "The signer must be valid at the verifier's time",
    what="The verifier's own clock (never the manifest's created_at) is within the signer's "
    "notBefore..notAfter.",
    why="The manifest's date is written by the exporter: a bundle signed with an expired key "
    "and back-dated would otherwise verify. Without a trusted timestamp the verifier's clock "
    "is the only time the exporter does not control; re-export with a valid signer.",
    bad="signer expired on 2026-01-01, bundle verified on 2026-12-02",
    good="signer valid from 2026-11-30 to 2029-11-29",
    references=(RFC5280_PATH, BUNDLE),
    check=signer_expired,
)
_rule(
    "EVIDENCE-007",
    "evidence-signer-revoked",
    E,
    "The signer must not be revoked",
    what="The monitor's CRL does not list the signer's serial (any revocation date up to the "
    "verifier's time counts).",
    why="A revoked key may be in anyone's hands; the date a forger writes in the manifest "
    "cannot move the signature before the revocation.",
    bad="serial 3f... revoked on 2026-11-30",
    good="serial not on the CRL",
    references=(RFC5280_CRL, BUNDLE),
    check=signer_revoked,
)
_rule(
    "EVIDENCE-008",
    "evidence-revocation-unknown",
    W,
    "The signer's revocation should be checked",
    what="The monitor had a CRL that covers the signer, and it was usable.",
    why="Said, not hidden: without a CRL a revoked signer cannot be told from a good one.",
    bad="evidence verify --anchors ca.pem (no CRL)",
    good="evidence verify --anchors ca.pem --crl organisations.crl",
    references=(RFC5280_CRL,),
    check=revocation_unknown,
)
_rule(
    "EVIDENCE-009",
    "evidence-signing-time-implausible",
    E,
    "The manifest's date must be one its signer could have signed at",
    what="created_at is an ISO date with a zone, not after the verifier's time (5 minutes of "
    "clock skew allowed) and not before the signer's notBefore.",
    why="A date after the verification or before the signer existed is made up.",
    bad='"created_at": "2031-01-01T00:00:00+00:00" verified in 2026',
    good='"created_at": "2026-12-02T14:00:00+00:00"',
    references=(BUNDLE,),
    check=signing_time_implausible,
)
_rule(
    "EVIDENCE-010",
    "evidence-self-attested",
    INFO,
    "A bundle signed by a key the monitor did not pin is self-attested",
    what="The signer is not pinned in the monitor's configuration (`evidence verify --pin`).",
    why="A vendor running drimlab on their own machine holds its keys: their bundle shows what "
    "their bench saw, signed by themselves. Only a signer the monitor pinned (a programme's "
    "environment) is an independent attestation.",
    bad="signed by the local bench's evidence signer, not pinned",
    good="signed by the programme environment's signer, pinned by the monitor",
    references=(BUNDLE,),
    check=self_attested,
)
