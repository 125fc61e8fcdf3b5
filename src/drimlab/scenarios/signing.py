"""Signing an evidence manifest with the bench's key, and recording what a signature is.

The signer is the test PKI's `evidence-signer` certificate (extended key usage
documentSigning only, RFC 9336), or a key and certificate chain the operator configures;
the exporter refuses a CA or a certificate made for another purpose. The signature (RSA
PKCS#1 v1.5 or ECDSA, SHA-256) covers the manifest's exact bytes; the bundle carries the
signer's chain. `inspect_signature` records, for the monitor, what the signature and its
signer are (`BundleSignatureFacts`), judged at the verifier's own clock against what the
monitor trusts (`MonitorTrust`: anchors, a CRL, pinned signers); the EVIDENCE rules judge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from drimlab.errors import ConfigurationError, InputError
from drimlab.facts.evidence import DOCUMENT_SIGNING, BundleSignatureFacts, PinnedSigner
from drimlab.facts.tls import Revocation
from drimlab.facts.whitelist import ChainCheck
from drimlab.trust.peer import certificate_facts
from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import RevocationList, utc, verify_chain
from drimlab.trust.pki_x509 import fingerprint

EVIDENCE_SIGNER = "evidence-signer"
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _load_chain(data: bytes, origin: str) -> tuple[x509.Certificate, ...]:
    try:
        chain = tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        raise InputError(f"{origin}: not a PEM certificate chain") from None
    if not chain:
        raise InputError(f"{origin}: holds no certificate")
    return chain


def _check_evidence_signer(cert: x509.Certificate, origin: str) -> None:
    """Refuse, before signing, a certificate no monitor accepts as an evidence signer."""
    name = cert.subject.rfc4514_string()
    if _is_ca(cert):
        raise InputError(f"{origin}: {name} is a CA certificate: it cannot sign evidence")
    usages = _usages(cert)
    if usages is not None and DOCUMENT_SIGNING not in usages:
        raise InputError(
            f"{origin}: {name} is not an evidence-signing certificate (its extended key usages "
            f"are {', '.join(usages) or 'none'}; documentSigning {DOCUMENT_SIGNING} is needed): "
            "a monitor would refuse the bundle"
        )


@dataclass(frozen=True)
class Signer:
    """A private key and its certificate chain (leaf first)."""

    key: SigningKey
    chain: tuple[x509.Certificate, ...]

    @classmethod
    def from_pki(cls, pki: Pki) -> Signer:
        """The test PKI's evidence signer."""
        if not any(e.name == EVIDENCE_SIGNER for e in pki.entries):
            raise ConfigurationError(
                f"the test PKI at {pki.directory} has no {EVIDENCE_SIGNER!r} certificate "
                "(it predates evidence bundles): re-create it with `drimlab pki init --force`, "
                "or give --key and --cert"
            )
        try:
            return cls.from_files(pki.key_path(EVIDENCE_SIGNER), pki.chain_path(EVIDENCE_SIGNER))
        except InputError as exc:
            raise ConfigurationError(
                f"{exc}; the test PKI at {pki.directory} predates designated evidence signers: "
                "re-create it with `drimlab pki init --force`, or give --key and --cert"
            ) from None

    @classmethod
    def from_files(cls, key_path: Path, cert_path: Path) -> Signer:
        """An operator-configured key (PEM, unencrypted) and its certificate chain (PEM)."""
        try:
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            chain_data = cert_path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except (ValueError, TypeError):
            raise InputError(f"{key_path}: not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise InputError(f"{key_path}: only RSA and EC keys can sign evidence")
        chain = _load_chain(chain_data, str(cert_path))
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if chain[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise InputError(f"{cert_path}: its first certificate is not the key's")
        _check_evidence_signer(chain[0], str(cert_path))
        return cls(key, chain)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return False


def _usages(cert: x509.Certificate) -> tuple[str, ...] | None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return tuple(u.dotted_string for u in eku)


def _verifies(leaf: x509.Certificate, signature: bytes, data: bytes) -> bool | None:
    """True/False: the signature verifies or not; None: the key is neither RSA nor EC."""
    public = leaf.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return None
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class MonitorTrust:
    """What the monitor trusts: CA anchors, a CRL, and signers it pins by certificate."""

    anchors: tuple[x509.Certificate, ...] = ()
    crl: RevocationList | None = None
    pinned: tuple[PinnedSigner, ...] = ()
    at: datetime | None = None  # the verifier's clock (default: now)

    @staticmethod
    def pin(cert: x509.Certificate, label: str | None = None) -> PinnedSigner:
        digest = fingerprint(cert)
        return PinnedSigner(digest, label or cert.subject.rfc4514_string())


def inspect_signature(
    bundle: str,
    data: bytes,
    signature: bytes | None,
    chain_pem: bytes | None,
    trust: MonitorTrust,
    *,
    claimed_at: str | None = None,
) -> BundleSignatureFacts:
    """Record what the manifest's signature and its signer are, at the verifier's time."""
    facts = BundleSignatureFacts(
        bundle, utc(trust.at), claimed_at=claimed_at, signed=signature is not None
    )
    if signature is None or chain_pem is None:
        return replace(facts, signed=False)
    try:
        chain = _load_chain(chain_pem, "signer.pem")
    except InputError as exc:
        return replace(facts, signer_problem=str(exc))
    leaf = chain[0]
    verified = _verifies(leaf, signature, data)
    if verified is None:
        return replace(facts, signer_problem="the signer's key is neither RSA nor EC")
    signer = certificate_facts(leaf.public_bytes(serialization.Encoding.DER))
    pinned = next((p for p in trust.pinned if p.sha256 == signer.sha256), None)
    facts = replace(
        facts,
        signature_verified=verified,
        signer=signer,
        signer_is_ca=_is_ca(leaf),
        pinned=pinned,
    )
    if trust.anchors:
        result = verify_chain(leaf, chain[1:], trust.anchors, facts.verified_at)
        facts = replace(
            facts,
            chain=ChainCheck.VERIFIED if result.ok else ChainCheck.UNTRUSTED,
            chain_problem=result.problem or "",
        )
    if trust.crl is not None:
        checked = trust.crl.check(leaf, facts.verified_at)
        facts = replace(
            facts, revocation=Revocation(checked.status.value), revocation_detail=checked.detail
        )
    return facts
