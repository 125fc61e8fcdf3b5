"""The DRIM-M whitelist (`ListeBlancheDRIM-M`): its model, DN matching and signature check.

The signature is verified with xmlsec (libxmlsec1), which implements the XPath Filter 2.0
transform the ANS list uses. Beyond the signature value, `inspect_whitelist` records whether
the signature covers the whole list, the XAdES SigningCertificateV2 binding, the signer
certificate, and, when anchors and a CRL are given, its chain and revocation, as
`WhitelistFacts`; the WL rules judge them (signer identity and validity at the validation
time included).

DN comparison (`dn_key`, `same_dn`) follows RFC 5280 §7.1: two names are equal when they
have the same relative distinguished names (RDNs) in the same order, and each RDN the same set
of attribute type and value pairs. A multi-valued RDN (`OU=...+CN=...`) is one RDN, never two.
Types compare by OID (`ST` = `stateOrProvinceName`); values after the RFC 4518 preparation the
ANS list needs: Unicode NFKC, case folding, leading and trailing spaces removed and inner runs
of spaces collapsed. A DN string is read as RFC 4514 writes it (last RDN first: the ANS list's
`CN=...,OU=...,O=...,ST=...,C=FR` is the RDN sequence C, ST, O, OU, CN that an IGC-Santé
certificate encodes); spaces after the separators are tolerated, and so is a string written
in the opposite order (C first, as `openssl x509 -subject -nameopt oneline` prints it). Any
other reordering, a missing or extra attribute, or RDNs merged or split, is another name.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from drimlab.documents.xml import parse_untrusted
from drimlab.errors import InputError
from drimlab.facts.tls import Revocation
from drimlab.facts.whitelist import ANS_SIGNER, ChainCheck, SignerExpectation, WhitelistFacts
from drimlab.limits import WHITELIST_BYTES, read_bounded
from drimlab.trust.peer import certificate_facts
from drimlab.trust.pki_verify import Revocation as CrlStatus
from drimlab.trust.pki_verify import RevocationList, utc, validity_problem, verify_chain

NS = "https://github.com/ansforge/DRIM-M_DATA"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SIGNED_PROPERTIES = "http://uri.etsi.org/01903#SignedProperties"
SUPPORTED_VERSIONS = frozenset({"1.0.0"})
FIELDS = (
    "Identifiant",
    "db",
    "vi",
    "Denomination",
    "DNCertificatOperateur",
    "SupportContact",
    "DateMAJ",
)
REQUIRED = ("Identifiant", "db", "DNCertificatOperateur")
DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}


# -- DNs ---------------------------------------------------------------------------------


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def _split(text: str, separators: str) -> list[str]:
    """`text` split on the unescaped characters of `separators` (escapes kept)."""
    pieces, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in separators:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def _trim(value: str) -> str:
    """Leading and trailing spaces removed, but an escaped trailing space kept."""
    value = value.lstrip()
    while value.endswith(" ") and not value.endswith("\\ "):
        value = value[:-1]
    return value


#: Attribute type names are case-insensitive (RFC 4512 §1.4); long names of the usual ones.
TYPE_ALIASES = {
    "COMMONNAME": "CN",
    "ORGANIZATIONALUNITNAME": "OU",
    "ORGANIZATIONNAME": "O",
    "STATEORPROVINCENAME": "ST",
    "LOCALITYNAME": "L",
    "COUNTRYNAME": "C",
}


def _attribute(text: str) -> x509.NameAttribute[Any]:
    kind, sep, value = text.partition("=")
    kind = kind.strip()
    if not sep or not kind:
        raise ValueError(f"{text!r} is not type=value")
    if not kind[0].isdigit():
        kind = TYPE_ALIASES.get(kind.upper(), kind.upper())
    parsed = list(x509.Name.from_rfc4514_string(f"{kind}={_trim(value)}"))
    if len(parsed) != 1:
        raise ValueError(f"{text!r} is not one attribute")
    return parsed[0]


def _rdns(dn: str | x509.Name) -> list[list[x509.NameAttribute[Any]]]:
    """The RDN sequence of a DN, in encoding order (RFC 4514 strings are written reversed)."""
    if isinstance(dn, x509.Name):
        return [list(rdn) for rdn in dn.rdns]
    rdns = [[_attribute(ava) for ava in _split(rdn, "+")] for rdn in _split(dn, ",;")]
    return rdns[::-1]


DnKey = tuple[frozenset[tuple[str, str]], ...]


def dn_key(dn: str | x509.Name) -> DnKey:
    """A comparable form of a DN: its RDNs in order, each a set of (OID, prepared value)."""
    return tuple(
        frozenset((a.oid.dotted_string, _norm(str(a.value))) for a in rdn) for rdn in _rdns(dn)
    )


def same_dn(a: str | x509.Name, b: str | x509.Name) -> bool:
    """True when two DNs name the same subject, RDN by RDN (see the module doc)."""
    try:
        first, second = dn_key(a), dn_key(b)
    except ValueError:
        return False
    return bool(first) and (first == second or first == second[::-1])


# -- the document ----------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """One `Domaine` of the list."""

    identifiant: str
    db: str
    vi: str
    denomination: str
    dn_certificat_operateur: str
    support_contact: str
    date_maj: str

    def matches_dn(self, dn: str | x509.Name) -> bool:
        return same_dn(self.dn_certificat_operateur, dn)


@dataclass(frozen=True)
class Whitelist:
    """A parsed `ListeBlancheDRIM-M` (signed or not: see `verify_whitelist`)."""

    version_format: str
    date_de_generation: str
    domains: tuple[Domain, ...]

    def domain_for_dn(self, dn: str | x509.Name) -> Domain | None:
        return next((d for d in self.domains if d.matches_dn(dn)), None)

    def domains_for_host(self, host: str) -> tuple[Domain, ...]:
        wanted = host.strip().rstrip(".").casefold()
        return tuple(d for d in self.domains if d.db.strip().rstrip(".").casefold() == wanted)


def _text(parent: etree._Element, local: str) -> str | None:
    node = parent.find(f"{{{NS}}}{local}")
    return None if node is None else (node.text or "").strip()


def read_document(root: etree._Element) -> Whitelist:
    """The list's content from its parsed root; InputError says what is wrong."""
    if root.tag != f"{{{NS}}}ListeBlancheDRIM-M":
        raise InputError(f"root element is {root.tag}, not {{{NS}}}ListeBlancheDRIM-M")
    version = root.get("versionFormat", "")
    if version not in SUPPORTED_VERSIONS:
        raise InputError(f"versionFormat {version!r} is not supported (expected 1.0.0)")
    holder = root.find(f"{{{NS}}}ListeDomaines")
    if holder is None:
        raise InputError("no ListeDomaines element")
    domains = []
    for index, node in enumerate(holder.findall(f"{{{NS}}}Domaine")):
        values = {f: _text(node, f) for f in FIELDS}
        missing = [f for f in REQUIRED if not values[f]]
        if missing:
            raise InputError(f"Domaine #{index + 1} has no {', '.join(missing)}")
        dn = values["DNCertificatOperateur"] or ""
        try:
            if not dn_key(dn):
                raise ValueError("empty DN")
        except ValueError:
            raise InputError(
                f"Domaine #{index + 1}: DNCertificatOperateur {dn!r} is not a DN"
            ) from None
        domains.append(Domain(*(values[f] or "" for f in FIELDS)))
    return Whitelist(version, _text(root, "DateDeGeneration") or "", tuple(domains))


def parse_xml(data: bytes) -> etree._Element:
    """The list's root element; a DOCTYPE is refused (`documents.xml.parse_untrusted`)."""
    return parse_untrusted(data, "the list")


def load_whitelist(path: Path) -> Whitelist:
    """Read a list's content without checking its signature (for display)."""
    return read_document(parse_xml(read_bytes(path)))


def read_bytes(path: Path) -> bytes:
    """The bytes of a list file (at most `WHITELIST_BYTES`), or InputError naming it."""
    return read_bounded(path, WHITELIST_BYTES, "a whitelist")


# -- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class WhitelistInspection:
    """A list's facts for the WL rules, and its content when it could be read."""

    facts: WhitelistFacts
    document: Whitelist | None = None


def inspect_whitelist(
    source: bytes | Path,
    *,
    anchors: Sequence[x509.Certificate] = (),
    crl: RevocationList | None = None,
    expected: SignerExpectation | None = ANS_SIGNER,
    at: datetime | None = None,
    label: str | None = None,
) -> WhitelistInspection:
    """Read a list and verify its signature, recording what each step found at time `at`."""
    when = utc(at)
    name = label or (str(source) if isinstance(source, Path) else "<whitelist>")
    data = read_bytes(source) if isinstance(source, Path) else source
    base = WhitelistFacts(source=name, at=when, expected_signer=expected)
    try:
        root = parse_xml(data)
        document = read_document(root)
    except InputError as exc:
        return WhitelistInspection(replace(base, malformed=str(exc)))
    signatures = root.findall(f".//{{{DS}}}Signature")
    base = replace(base, domains=len(document.domains), signatures=len(signatures))
    if not signatures:
        return WhitelistInspection(base, document)
    facts = _Verifier(root, signatures, base).run(anchors, crl)
    return WhitelistInspection(facts, document)


class _Verifier:
    def __init__(
        self, root: etree._Element, signatures: list[etree._Element], facts: WhitelistFacts
    ) -> None:
        self.root = root
        self.signatures = signatures
        self.facts = facts

    def run(
        self, anchors: Sequence[x509.Certificate], crl: RevocationList | None
    ) -> WhitelistFacts:
        signature = self.signatures[0]
        scope = self._scope_problem(signature)
        if scope:
            return replace(self.facts, scope_problem=scope)
        certs = self._embedded_certificates(signature)
        if not certs:
            return replace(
                self.facts,
                signature_verified=False,
                signature_error="KeyInfo holds no X509Certificate",
            )
        signer_cert = certs[0]
        der = signer_cert.public_bytes(serialization.Encoding.DER)
        time = signature.find(f".//{{{XADES}}}SigningTime")
        facts = replace(
            self.facts,
            signer=certificate_facts(der),
            signing_time=None if time is None else (time.text or "").strip(),
        )
        try:
            context = xmlsec.SignatureContext()
            context.key = xmlsec.Key.from_memory(der, xmlsec.constants.KeyDataFormatCertDer)
            xmlsec.tree.add_ids(self.root, ["Id"])
            context.verify(signature)
        except xmlsec.Error as exc:
            return replace(
                facts,
                signature_verified=False,
                signature_error=f"the signature does not verify with the embedded signer "
                f"certificate ({exc}): the list was changed after signing or the signature "
                "is forged",
            )
        facts = replace(
            facts,
            signature_verified=True,
            signing_certificate_problem=self._signing_certificate_problem(signature, der),
        )
        return self._trust(facts, signer_cert, certs[1:], anchors, crl)

    def _scope_problem(self, signature: etree._Element) -> str | None:
        if len(self.signatures) != 1:
            return f"{len(self.signatures)} ds:Signature elements; exactly one is allowed"
        if signature.getparent() is not self.root:
            return "the ds:Signature is not a child of the ListeBlancheDRIM-M root"
        references = signature.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        whole = [r for r in references if r.get("URI") == ""]
        props = [r for r in references if r.get("Type") == SIGNED_PROPERTIES]
        if len(whole) != 1 or len(whole) + len(props) != len(references):
            return 'the signature must have one Reference URI="" and only SignedProperties besides'
        transforms = [t for t in whole[0].iterfind(f"{{{DS}}}Transforms/{{{DS}}}Transform")]
        algorithms = [t.get("Algorithm") for t in transforms]
        if algorithms == [FILTER2, EXC_C14N]:
            xpaths = transforms[0].findall(f"{{{FILTER2}}}XPath")
            ok = (
                len(xpaths) == 1
                and xpaths[0].get("Filter") == "subtract"
                and ((xpaths[0].text or "").strip() == "/descendant::ds:Signature")
            )
            return None if ok else "the XPath Filter 2.0 transform removes more than ds:Signature"
        if algorithms in ([ENVELOPED, EXC_C14N], [ENVELOPED]):
            return None
        return f"unexpected transforms on the document reference: {algorithms}"

    @staticmethod
    def _embedded_certificates(signature: etree._Element) -> list[x509.Certificate]:
        certs = []
        for node in signature.iterfind(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
            try:
                certs.append(x509.load_der_x509_certificate(base64.b64decode(node.text or "")))
            except ValueError:
                continue
        return certs

    @staticmethod
    def _signing_certificate_problem(signature: etree._Element, der: bytes) -> str | None:
        # Only meaningful when SignedProperties is itself covered by a verified reference.
        covered = signature.find(
            f"{{{DS}}}SignedInfo/{{{DS}}}Reference[@Type='{SIGNED_PROPERTIES}']"
        )
        digest_node = signature.find(
            f".//{{{XADES}}}SignedProperties//{{{XADES}}}SigningCertificateV2//{{{XADES}}}CertDigest"
        )
        if covered is None or digest_node is None:
            return "no signed XAdES SigningCertificateV2 binds the signer certificate"
        method = digest_node.find(f"{{{DS}}}DigestMethod")
        value = digest_node.find(f"{{{DS}}}DigestValue")
        algorithm = DIGESTS.get("" if method is None else method.get("Algorithm", ""))
        if algorithm is None or value is None:
            return "SigningCertificateV2 uses an unknown digest algorithm"
        if base64.b64decode(value.text or "") != algorithm(der).digest():
            return "SigningCertificateV2 digest does not match the embedded signer certificate"
        return None

    def _trust(
        self,
        facts: WhitelistFacts,
        cert: x509.Certificate,
        embedded: Sequence[x509.Certificate],
        anchors: Sequence[x509.Certificate],
        crl: RevocationList | None,
    ) -> WhitelistFacts:
        if anchors:
            # Validity is WL-006's business: check the path as of the signer's own validity.
            chain = verify_chain(cert, [*embedded, *anchors], anchors, self._path_time(cert))
            facts = replace(
                facts,
                chain=ChainCheck.VERIFIED if chain.ok else ChainCheck.UNTRUSTED,
                chain_problem=chain.problem or "",
            )
        if crl is not None:
            status = crl.check(cert, facts.at)
            facts = replace(
                facts, revocation=_REVOCATION[status.status], revocation_detail=status.detail
            )
        return facts

    def _path_time(self, cert: x509.Certificate) -> datetime:
        if validity_problem(cert, self.facts.at) is None:
            return self.facts.at
        return cert.not_valid_before_utc


_REVOCATION = {
    CrlStatus.GOOD: Revocation.GOOD,
    CrlStatus.REVOKED: Revocation.REVOKED,
    CrlStatus.UNKNOWN: Revocation.UNKNOWN,
}

__all__ = [
    "ANS_SIGNER",
    "Domain",
    "SignerExpectation",
    "Whitelist",
    "WhitelistInspection",
    "dn_key",
    "inspect_whitelist",
    "load_whitelist",
    "parse_xml",
    "read_bytes",
    "read_document",
    "same_dn",
]
