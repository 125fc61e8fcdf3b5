"""Signing whitelists with the bench's PKI, in the same shape as the ANS list.

Enveloped XAdES-BASELINE-B: a first reference over the whole document (XPath Filter 2.0
subtract `/descendant::ds:Signature`, then exclusive C14N), a second over the XAdES
SignedProperties (SigningTime, SigningCertificateV2 with a SHA-512 CertDigest and
IssuerSerialV2, DataObjectFormat text/xml); RSA-SHA256; KeyInfo with signer, intermediate
and root. xmlsec computes the digests and the signature value.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from lxml import etree

from drimlab.errors import InputError
from drimlab.trust.pki import Pki
from drimlab.trust.whitelist import (
    DS,
    EXC_C14N,
    FILTER2,
    NS,
    SIGNED_PROPERTIES,
    XADES,
    parse_xml,
    read_document,
)

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def issuer_serial_v2(cert: x509.Certificate) -> bytes:
    """DER IssuerSerial (RFC 5035): GeneralNames{directoryName issuer}, serialNumber."""
    name = cert.issuer.public_bytes()
    directory_name = _der(0xA4, name)  # [4] EXPLICIT Name
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8, "big")
    return _der(0x30, _der(0x30, directory_name) + _der(0x02, serial))


def _el(
    parent: etree._Element, ns: str, local: str, text: str | None = None, **attrs: str
) -> etree._Element:
    node = etree.SubElement(parent, f"{{{ns}}}{local}", attrs)
    if text is not None:
        node.text = text
    return node


def _check_key_matches(signer_cert: x509.Certificate, signer_key_pem: bytes) -> None:
    """A signature by another key than the certificate's would never verify: refuse it."""
    try:
        key = serialization.load_pem_private_key(signer_key_pem, password=None)
    except (ValueError, TypeError):
        raise InputError("the signing key is not an unencrypted PEM private key") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != signer_cert.public_key().public_bytes(*spki):
        raise InputError(
            f"the signing key does not match the certificate {signer_cert.subject.rfc4514_string()}"
            " (its public key differs): nothing was signed"
        )


def sign_whitelist(
    data: bytes,
    signer_cert: x509.Certificate,
    signer_key_pem: bytes,
    chain: Sequence[x509.Certificate] = (),
    *,
    at: datetime | None = None,
) -> bytes:
    """Sign a ListeBlancheDRIM-M (any previous signature is removed) and return the bytes."""
    _check_key_matches(signer_cert, signer_key_pem)
    root = parse_xml(data)
    for old in root.findall(f".//{{{DS}}}Signature"):
        parent = old.getparent()
        if parent is not None:
            parent.remove(old)
    read_document(root)
    ident = f"id-{secrets.token_hex(16)}"
    when = (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)

    signature = etree.SubElement(root, f"{{{DS}}}Signature", {"Id": ident}, nsmap={"ds": DS})
    info = _el(signature, DS, "SignedInfo")
    _el(info, DS, "CanonicalizationMethod", Algorithm=EXC_C14N)
    _el(info, DS, "SignatureMethod", Algorithm=RSA_SHA256)
    whole = _el(info, DS, "Reference", Id=f"r-{ident}-1", URI="")
    transforms = _el(whole, DS, "Transforms")
    xpath_transform = _el(transforms, DS, "Transform", Algorithm=FILTER2)
    xpath = etree.SubElement(
        xpath_transform,
        f"{{{FILTER2}}}XPath",
        {"Filter": "subtract"},
        nsmap={"dsig-filter2": FILTER2},
    )
    xpath.text = "/descendant::ds:Signature"
    _el(transforms, DS, "Transform", Algorithm=EXC_C14N)
    _el(whole, DS, "DigestMethod", Algorithm=SHA256)
    _el(whole, DS, "DigestValue")
    props_ref = _el(info, DS, "Reference", Type=SIGNED_PROPERTIES, URI=f"#xades-{ident}")
    _el(_el(props_ref, DS, "Transforms"), DS, "Transform", Algorithm=EXC_C14N)
    _el(props_ref, DS, "DigestMethod", Algorithm=SHA256)
    _el(props_ref, DS, "DigestValue")
    _el(signature, DS, "SignatureValue", Id=f"value-{ident}")

    obj = _el(signature, DS, "Object")
    qualifying = etree.SubElement(
        obj, f"{{{XADES}}}QualifyingProperties", {"Target": f"#{ident}"}, nsmap={"xades": XADES}
    )
    signed = _el(qualifying, XADES, "SignedProperties", Id=f"xades-{ident}")
    sig_props = _el(signed, XADES, "SignedSignatureProperties")
    _el(sig_props, XADES, "SigningTime", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cert_node = _el(_el(sig_props, XADES, "SigningCertificateV2"), XADES, "Cert")
    digest = _el(cert_node, XADES, "CertDigest")
    _el(digest, DS, "DigestMethod", Algorithm=SHA512)
    der = signer_cert.public_bytes(serialization.Encoding.DER)
    _el(digest, DS, "DigestValue", base64.b64encode(hashlib.sha512(der).digest()).decode())
    _el(
        cert_node, XADES, "IssuerSerialV2", base64.b64encode(issuer_serial_v2(signer_cert)).decode()
    )
    data_props = _el(signed, XADES, "SignedDataObjectProperties")
    fmt = _el(data_props, XADES, "DataObjectFormat", ObjectReference=f"#r-{ident}-1")
    _el(fmt, XADES, "MimeType", "text/xml")

    try:
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_memory(signer_key_pem, xmlsec.constants.KeyDataFormatPem)
        xmlsec.tree.add_ids(root, ["Id"])
        context.sign(signature)
    except xmlsec.Error as exc:
        raise InputError(f"cannot sign the whitelist: {exc}") from None
    # KeyInfo is outside both references (the first subtracts the whole signature), so it is
    # added after signing, in its schema position after SignatureValue.
    key_info = etree.Element(f"{{{DS}}}KeyInfo")
    x509_data = _el(key_info, DS, "X509Data")
    for cert in (signer_cert, *chain):
        _el(
            x509_data,
            DS,
            "X509Certificate",
            base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
        )
    signature.insert(2, key_info)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=False)
    return out


def make_whitelist(
    domains: Sequence[tuple[str, str, str, str]],
    *,
    at: datetime | None = None,
    contact: str = "support@drimlab.test",
) -> bytes:
    """An unsigned ListeBlancheDRIM-M of (db, vi, denomination, DN) tuples, numbered from 1."""
    when = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # lxml's stubs do not admit the default-namespace key None that lxml itself requires.
    nsmap: Any = {None: NS}
    root = etree.Element(f"{{{NS}}}ListeBlancheDRIM-M", {"versionFormat": "1.0.0"}, nsmap=nsmap)
    _el(root, NS, "DateDeGeneration", when)
    holder = _el(root, NS, "ListeDomaines")
    for index, (db, vi, denomination, dn) in enumerate(domains, start=1):
        node = _el(holder, NS, "Domaine")
        for local, value in (
            ("Identifiant", str(index)),
            ("db", db),
            ("vi", vi),
            ("Denomination", denomination),
            ("DNCertificatOperateur", dn),
            ("SupportContact", contact),
            ("DateMAJ", when),
        ):
            _el(node, NS, local, value)
    etree.indent(root, space="    ")
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out


def bench_whitelist(pki: Pki, names: Sequence[str] = ("source", "consumer")) -> bytes:
    """The bench's own list naming these PKI certificates, signed by its whitelist signer."""
    domains = []
    for name in names:
        entry = pki.entry(name)
        if entry.role not in {"drimbox", "negative"} or not entry.hosts:
            raise InputError(f"{name!r} is a {entry.role} certificate, not a DRIMBox one")
        organisation = pki.certificate(name).subject.get_attributes_for_oid(
            NameOID.ORGANIZATION_NAME
        )
        label = str(organisation[0].value) if organisation else name
        domains.append((entry.hosts[0], "", label, entry.subject))
    return sign_whitelist(
        make_whitelist(domains),
        pki.certificate("whitelist-signer"),
        pki.key_path("whitelist-signer").read_bytes(),
        [pki.certificate("organisations"), pki.certificate("root")],
    )
