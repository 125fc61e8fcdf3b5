"""X.509 building blocks of the test PKI: names, keys, certificates and CRLs (no file I/O).

Keys are RSA 2048 with SHA-256 signatures: IGC-Santé issues RSA certificates and the ANS
whitelist is signed RSA-SHA256, so a bench shaped the same way exercises the same code paths
in a DRIMBox under test (an EC-only bench would miss RSA-specific faults).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RSA_BITS = 2048
TEST_COUNTRY = "FR"
#: id-kp-documentSigning (RFC 9336): the one purpose an evidence-signing certificate carries,
#: so no TLS or whitelist-signing certificate of a PKI can pass for an evidence signer.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class Subject:
    """An IGC-Santé-shaped subject: CN, OU (IDNST, or the CA's unit), O, optional ST, C=FR."""

    common_name: str
    organisational_unit: str
    organisation: str
    state: str | None = None
    country: str = TEST_COUNTRY

    def name(self) -> x509.Name:
        # Encoded C first, as IGC-Santé does; RFC 4514 strings show it reversed (CN first).
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, self.country)]
        if self.state:
            attributes.append(x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, self.state))
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.organisational_unit),
            x509.NameAttribute(NameOID.COMMON_NAME, self.common_name),
        ]
        return x509.Name(attributes)


def new_key() -> rsa.RSAPrivateKey:
    """A fresh RSA 2048 private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (the files are 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lowercase hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def ca_certificate(
    subject: Subject,
    key: rsa.RSAPrivateKey,
    *,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey | None,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
) -> x509.Certificate:
    """A root (issuer None: self-signed) or intermediate CA certificate."""
    signer_key = issuer_key or key
    issuer_name = issuer.subject if issuer is not None else subject.name()
    builder = _base(subject.name(), issuer_name, key.public_key(), not_before, not_after)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=True, path_length=path_length), critical=True
    ).add_extension(
        x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
        critical=False,
    )
    return builder.sign(signer_key, hashes.SHA256())


def leaf_certificate(
    subject: Subject,
    key: rsa.RSAPrivateKey,
    *,
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    not_before: datetime,
    not_after: datetime,
    hosts: Sequence[str] = (),
    usages: Sequence[str] = ("server", "client"),
    crl_url: str | None = None,
    signing: bool = False,
    subject_name: x509.Name | None = None,
) -> x509.Certificate:
    """An organisation certificate: TLS (server/client usages, SANs), signing (whitelist), or
    evidence signing (usages `("evidence",)`: documentSigning only, no SAN).

    `subject_name` replaces the name `subject` makes (a test certificate shaped wrongly).
    """
    evidence = "evidence" in usages
    if evidence:
        signing, hosts = True, ()
    name = subject_name if subject_name is not None else subject.name()
    builder = _base(name, issuer.subject, key.public_key(), not_before, not_after)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=signing,
            key_encipherment=not signing,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    purposes = {
        "server": ExtendedKeyUsageOID.SERVER_AUTH,
        "client": ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    if evidence:
        builder = builder.add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING]), critical=False)
    elif signing:
        # The ANS "Liste Blanche DRIM-M" ORG SIGN certificate carries emailProtection.
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
    elif usages:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([purposes[u] for u in usages]), critical=False
        )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
        )
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
        critical=False,
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def revocation_list(
    issuer: x509.Certificate,
    issuer_key: rsa.RSAPrivateKey,
    revoked: Sequence[tuple[int, datetime]],
    *,
    this_update: datetime,
    next_update: datetime,
    number: int,
) -> x509.CertificateRevocationList:
    """A CRL of the given (serial, revocation date) pairs, signed by the issuing CA."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer_key, hashes.SHA256())


def days(n: float) -> timedelta:
    return timedelta(days=n)
