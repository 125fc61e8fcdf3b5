"""Facts about a TLS connection and the certificate its peer presented, read from the socket.

The server side must see the client certificate that OpenSSL verified. aiohttp exposes the
TLS object of each connection (`request.transport.get_extra_info("ssl_object")`), which
plain uvicorn, hypercorn and granian do not; `request_tls` reads it there.
"""

from __future__ import annotations

import hashlib
import ssl
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from drimlab.facts.tls import CertificateFacts, Role, TlsFacts, plain

if TYPE_CHECKING:
    from aiohttp import web

TlsConnection = ssl.SSLObject | ssl.SSLSocket


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def certificate_facts(der: bytes) -> CertificateFacts:
    """The facts of one DER certificate: identity, issuer, serial, fingerprint, validity."""
    cert = x509.load_der_x509_certificate(der)
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        usages: tuple[str, ...] | None = tuple(u.dotted_string for u in eku)
    except x509.ExtensionNotFound:
        usages = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n) for n in san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        sha256=hashlib.sha256(der).hexdigest(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        common_name=_first(cert.subject, NameOID.COMMON_NAME),
        organisational_unit=_first(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME),
        organisation=_first(cert.subject, NameOID.ORGANIZATION_NAME),
        extended_key_usages=usages,
        dns_names=names,
    )


def _chain(conn: TlsConnection) -> tuple[bytes, ...]:
    """The DER chain the peer presented, leaf first (the leaf alone before Python 3.13)."""
    leaf = conn.getpeercert(binary_form=True)
    if not leaf:
        return ()
    verified = getattr(conn, "get_verified_chain", None)  # Python >= 3.13
    if verified is not None:
        try:
            der_format = getattr(ssl, "ENCODING_DER", 1)
            chain = tuple(c.public_bytes(der_format) for c in verified())
        except (ssl.SSLError, ValueError, AttributeError):
            chain = ()
        if chain and chain[0] == leaf:
            return chain
    return (leaf,)


def peer_der(conn: TlsConnection) -> bytes | None:
    """The DER of the peer's own certificate (None when it presented none)."""
    der = conn.getpeercert(binary_form=True)
    return der or None


def connection_facts(
    conn: TlsConnection,
    role: Role,
    *,
    peer_address: str | None = None,
    trust_hint: str | None = None,
) -> TlsFacts:
    """The facts of a completed handshake: version, cipher, the presented chain."""
    cipher = conn.cipher()
    chain = _chain(conn)
    # A presented certificate survived the handshake only if OpenSSL verified it.
    verified = bool(chain) and conn.context.verify_mode != ssl.CERT_NONE
    return TlsFacts(
        role=role,
        tls=True,
        peer_address=peer_address,
        version=conn.version(),
        cipher=cipher[0] if cipher else None,
        peer_chain=tuple(certificate_facts(der) for der in chain),
        chain_verified=verified,
        trust_hint=trust_hint,
    )


def address(peername: Any) -> str | None:
    """`host:port` of a socket peer name (None when unknown)."""
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"{peername[0]}:{peername[1]}"
    return None


def request_connection(request: web.Request) -> TlsConnection | None:
    """The TLS object of an aiohttp request's connection (None on plain HTTP)."""
    transport = request.transport
    if transport is None:
        return None
    conn = transport.get_extra_info("ssl_object")
    return conn if isinstance(conn, ssl.SSLObject | ssl.SSLSocket) else None


def request_tls(request: web.Request, *, trust_hint: str | None = None) -> TlsFacts:
    """The TLS facts of the connection an aiohttp request arrived on (server role)."""
    transport = request.transport
    peer_address = address(transport.get_extra_info("peername")) if transport else None
    conn = request_connection(request)
    if conn is None:
        return plain(Role.SERVER, peer_address)
    return connection_facts(conn, Role.SERVER, peer_address=peer_address, trust_hint=trust_hint)
