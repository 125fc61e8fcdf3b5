"""Facts about the certificate a TLS peer presented, read from the live connection.

The server side must see the client certificate that OpenSSL verified. aiohttp exposes the
TLS object of each connection (`request.transport.get_extra_info("ssl_object")`), which
plain uvicorn, hypercorn and granian do not; `peer_from_request` reads it there.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from aiohttp import web


class ChainStatus(StrEnum):
    """Whether OpenSSL verified the peer's chain against our trust anchors."""

    VERIFIED = "verified"
    NOT_VERIFIED = "not-verified"


class RevocationStatus(StrEnum):
    """Result of our own CRL check (Python's ssl does not check revocation)."""

    UNCHECKED = "unchecked"
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


@dataclass(frozen=True)
class PeerCertificate:
    """A peer certificate's identity, validity, chain and revocation status, TLS parameters."""

    subject: str
    common_name: str | None
    organisational_unit: str | None
    organisation: str | None
    issuer: str
    not_before: datetime
    not_after: datetime
    serial: str
    sha256: str
    chain_status: ChainStatus
    revocation_status: RevocationStatus = RevocationStatus.UNCHECKED
    tls_version: str | None = None
    cipher: str | None = None
    der: bytes = field(default=b"", repr=False, compare=False)

    @property
    def idnst(self) -> str | None:
        """The organisation's national identifier (the subject OU in IGC-Santé ORG certificates)."""
        return self.organisational_unit

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    def with_revocation(self, status: RevocationStatus) -> PeerCertificate:
        return replace(self, revocation_status=status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "common_name": self.common_name,
            "organisational_unit": self.organisational_unit,
            "organisation": self.organisation,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "serial": self.serial,
            "sha256": self.sha256,
            "chain_status": self.chain_status.value,
            "revocation_status": self.revocation_status.value,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
        }

    @classmethod
    def from_der(
        cls,
        der: bytes,
        *,
        chain_status: ChainStatus,
        tls_version: str | None = None,
        cipher: str | None = None,
    ) -> PeerCertificate:
        """Facts from a DER certificate (e.g. one recorded earlier)."""
        cert = x509.load_der_x509_certificate(der)
        return cls(
            subject=cert.subject.rfc4514_string(),
            common_name=_first(cert.subject, NameOID.COMMON_NAME),
            organisational_unit=_first(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
            organisation=_first(cert.subject, NameOID.ORGANIZATION_NAME),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            serial=format(cert.serial_number, "x"),
            sha256=hashlib.sha256(der).hexdigest(),
            chain_status=chain_status,
            tls_version=tls_version,
            cipher=cipher,
            der=der,
        )

    @classmethod
    def from_ssl(cls, conn: ssl.SSLObject | ssl.SSLSocket) -> PeerCertificate | None:
        """Facts of the certificate the peer of a completed handshake presented (None if none)."""
        der = conn.getpeercert(binary_form=True)
        if not der:
            return None
        # A presented certificate survived the handshake only if OpenSSL verified it.
        verified = conn.context.verify_mode != ssl.CERT_NONE
        cipher = conn.cipher()
        return cls.from_der(
            der,
            chain_status=ChainStatus.VERIFIED if verified else ChainStatus.NOT_VERIFIED,
            tls_version=conn.version(),
            cipher=cipher[0] if cipher else None,
        )


def peer_from_request(request: web.Request) -> PeerCertificate | None:
    """The verified client certificate of an aiohttp request (None on plain HTTP or no cert)."""
    transport = request.transport
    if transport is None:
        return None
    conn = transport.get_extra_info("ssl_object")
    if not isinstance(conn, ssl.SSLObject | ssl.SSLSocket):
        return None
    return PeerCertificate.from_ssl(conn)


def tls_parameters(conn: ssl.SSLObject | ssl.SSLSocket) -> tuple[str | None, str | None]:
    """The negotiated protocol version and cipher name of a connection."""
    cipher = conn.cipher()
    return conn.version(), cipher[0] if cipher else None
