"""Signing an evidence manifest with the bench's key, and checking such a signature.

The signer is the test PKI's `evidence-signer` certificate, or a key and certificate chain
the operator configures. The signature (RSA PKCS#1 v1.5 or ECDSA, SHA-256) covers the
manifest's exact bytes; the bundle carries the signer's chain so a monitor can check it
against the trust anchors they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from drimlab.errors import ConfigurationError, InputError
from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import verify_chain

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
        return cls.from_files(pki.key_path(EVIDENCE_SIGNER), pki.chain_path(EVIDENCE_SIGNER))

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
        return cls(key, chain)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)


def signature_problem(
    data: bytes,
    signature: bytes,
    chain_pem: bytes,
    anchors: Sequence[x509.Certificate],
    at: datetime,
) -> str | None:
    """Why the signature of `data` cannot be trusted (None: it verifies and chains)."""
    try:
        chain = _load_chain(chain_pem, "signer.pem")
    except InputError as exc:
        return str(exc)
    leaf = chain[0]
    public = leaf.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return "the signer's key is neither RSA nor EC"
    except InvalidSignature:
        return "the manifest signature does not verify (manifest.json was altered)"
    result = verify_chain(leaf, chain[1:], anchors, at)
    if not result.ok:
        return f"the signer {leaf.subject.rfc4514_string()} is not trusted: {result.problem}"
    return None
