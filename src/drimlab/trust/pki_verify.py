"""Path validation and CRL checking against explicit trust anchors (RFC 5280, simplified).

Python's `ssl` verifies a TLS peer's chain but never revocation, and a whitelist signer is
not a TLS peer at all: both need these checks. The path check is deliberately small: names
chain, each signature verifies with its issuer's key, every certificate is valid at the
validation time, every issuer is a CA, the path ends at a configured anchor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from drimlab.errors import InputError

MAX_PATH = 6


def utc(at: datetime | None) -> datetime:
    """The validation time: `at` in UTC (naive means UTC), or now."""
    if at is None:
        return datetime.now(UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def validity_problem(cert: x509.Certificate, at: datetime) -> str | None:
    """'expired' / 'not yet valid' with dates, or None when valid at `at`."""
    if at < cert.not_valid_before_utc:
        return f"not yet valid: valid from {cert.not_valid_before_utc.isoformat()}"
    if at > cert.not_valid_after_utc:
        return f"expired on {cert.not_valid_after_utc.isoformat()}"
    return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class ChainResult:
    """Outcome of a path validation: the path found (leaf first) or why none was."""

    ok: bool
    path: tuple[x509.Certificate, ...]
    problem: str | None = None
    expired: bool = False


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: datetime | None = None,
) -> ChainResult:
    """Build and check a path from `leaf` to one of `anchors` at time `at`."""
    when = utc(at)
    path = [leaf]
    current = leaf
    for _ in range(MAX_PATH):
        problem = validity_problem(current, when)
        if problem:
            name = current.subject.rfc4514_string()
            return ChainResult(False, tuple(path), f"{name} is {problem}", expired=True)
        for anchor in anchors:
            if anchor.subject == current.issuer and _issued_by(current, anchor):
                if anchor is not current:
                    path.append(anchor)
                problem = validity_problem(anchor, when)
                if problem:
                    name = anchor.subject.rfc4514_string()
                    return ChainResult(False, tuple(path), f"anchor {name} is {problem}", True)
                return ChainResult(True, tuple(path))
        nxt = next(
            (
                c
                for c in intermediates
                if c.subject == current.issuer
                and c not in path
                and _is_ca(c)
                and _issued_by(current, c)
            ),
            None,
        )
        if nxt is None:
            issuer = current.issuer.rfc4514_string()
            return ChainResult(False, tuple(path), f"no trusted issuer found for {issuer}")
        path.append(nxt)
        current = nxt
    return ChainResult(False, tuple(path), "certification path too long")


class Revocation(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RevocationResult:
    status: Revocation
    detail: str


@dataclass(frozen=True)
class RevocationList:
    """A CRL and the CA certificates that may have signed it."""

    crl: x509.CertificateRevocationList
    issuers: tuple[x509.Certificate, ...]
    source: str

    @classmethod
    def load(cls, path: Path, issuers: Sequence[x509.Certificate]) -> RevocationList:
        """Read a CRL file (DER or PEM); its signature is checked at each use."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read CRL {path}: {exc.strerror or exc}") from None
        try:
            crl = (
                x509.load_pem_x509_crl(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_crl(data)
            )
        except ValueError:
            raise InputError(f"{path} is not a DER or PEM CRL") from None
        return cls(crl, tuple(issuers), str(path))

    def check(self, cert: x509.Certificate, at: datetime | None = None) -> RevocationResult:
        """Is `cert` revoked at `at` according to this CRL (signature and freshness checked)?"""
        when = utc(at)
        if self.crl.issuer != cert.issuer:
            return RevocationResult(
                Revocation.UNKNOWN,
                f"the CRL is from {self.crl.issuer.rfc4514_string()}, "
                f"not from the certificate's issuer {cert.issuer.rfc4514_string()}",
            )
        issuer = next(
            (c for c in self.issuers if c.subject == self.crl.issuer and self._signed_by(c)), None
        )
        if issuer is None:
            return RevocationResult(
                Revocation.UNKNOWN, "the CRL signature does not verify with any trusted CA"
            )
        if not _issued_by(cert, issuer):
            return RevocationResult(
                Revocation.UNKNOWN, "the CRL's signer did not issue this certificate"
            )
        this_update = self.crl.last_update_utc
        next_update = self.crl.next_update_utc
        if when < this_update:
            return RevocationResult(
                Revocation.UNKNOWN, f"the CRL is not yet valid (thisUpdate {this_update})"
            )
        if next_update is None or when > next_update:
            return RevocationResult(
                Revocation.UNKNOWN, f"the CRL is stale (nextUpdate {next_update})"
            )
        entry = self.crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and entry.revocation_date_utc <= when:
            return RevocationResult(
                Revocation.REVOKED,
                f"serial {cert.serial_number:x} revoked on {entry.revocation_date_utc.isoformat()}",
            )
        return RevocationResult(Revocation.GOOD, f"serial {cert.serial_number:x} not on the CRL")

    def _signed_by(self, issuer: x509.Certificate) -> bool:
        key = issuer.public_key()
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            return False
        return bool(self.crl.is_signature_valid(key))


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM (or single DER) file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read certificates {path}: {exc.strerror or exc}") from None
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise InputError(f"{path} holds no readable X.509 certificate") from None
    end = b"-----END CERTIFICATE-----"
    tail = data[data.rfind(end) + len(end) :].strip() if end in data else b""
    if data.count(b"-----BEGIN CERTIFICATE-----") != data.count(end) or tail.startswith(b"-"):
        # the PEM reader keeps the whole blocks and drops a cut one without a word
        raise InputError(f"{path}: truncated PEM (a certificate without its END line)")
    return certs
