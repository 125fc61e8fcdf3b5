"""The DRIM-M whitelist (`ListeBlancheDRIM-M`): its model, DN matching and signature check.

The signature is verified with xmlsec (libxmlsec1), which implements the XPath Filter 2.0
transform the ANS list uses. Beyond the signature value, `verify_whitelist` checks that the
signature covers the whole list, the XAdES SigningCertificateV2 binding, the signer's CN/OU and
validity at the validation time, and, when anchors and a CRL are given, its chain and
revocation. Every refusal is a `WL-NNN` Finding.

DN comparison (`dn_key`): both DNs are split into (attribute type, value) pairs; types are
compared by OID (so `ST` and `stateOrProvinceName` are equal), values after Unicode NFC,
trimming, collapsing inner whitespace and case folding, and the pairs as a multiset. Order
is ignored because lists write DNs CN-first (RFC 4514 order) while certificates encode C-first.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from drimlab.errors import InputError
from drimlab.trust.pki_verify import Revocation, RevocationList, utc, validity_problem, verify_chain
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rulesets import trust as rules

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
LOC = Location(path="ListeBlancheDRIM-M")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


# -- DNs ---------------------------------------------------------------------------------


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


def _attributes(dn: str) -> list[str]:
    """`type=value` pieces of a DN string, split on unescaped `,` `;` `+`, spaces trimmed."""
    pieces, current, escaped = [], [], False
    for char in dn:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in ",;+":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    out = []
    for piece in pieces:
        kind, sep, value = piece.partition("=")
        if not sep or not kind.strip():
            raise ValueError(f"{piece!r} is not type=value")
        out.append(f"{kind.strip()}={value.strip()}")
    return out


def dn_key(dn: str | x509.Name) -> Counter[tuple[str, str]]:
    """A comparable form of a DN: a multiset of (OID, normalised value); see module doc."""
    if isinstance(dn, x509.Name):
        attributes = list(dn)
    else:
        # Each attribute parsed alone: spaces after commas (`CN=a, O=b`) are tolerated.
        attributes = [a for piece in _attributes(dn) for a in x509.Name.from_rfc4514_string(piece)]
    return Counter((a.oid.dotted_string, _norm(str(a.value))) for a in attributes)


def same_dn(a: str | x509.Name, b: str | x509.Name) -> bool:
    """True when two DNs name the same subject (attribute-by-attribute, order-insensitive)."""
    try:
        return dn_key(a) == dn_key(b)
    except ValueError:
        return False


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
            x509.Name.from_rfc4514_string(dn)
        except ValueError:
            raise InputError(
                f"Domaine #{index + 1}: DNCertificatOperateur {dn!r} is not a DN"
            ) from None
        domains.append(Domain(*(values[f] or "" for f in FIELDS)))
    return Whitelist(version, _text(root, "DateDeGeneration") or "", tuple(domains))


def parse_xml(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"not well-formed XML: {exc}") from None


def load_whitelist(path: Path) -> Whitelist:
    """Read a list's content without checking its signature (for display)."""
    return read_document(parse_xml(read_bytes(path)))


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


# -- verification ----------------------------------------------------------------------


@dataclass(frozen=True)
class SignerExpectation:
    """Who must have signed the list: CN and OU of the signer certificate."""

    common_name: str
    organisational_unit: str


ANS_SIGNER = SignerExpectation("Liste Blanche DRIM-M", "318751275100020")


@dataclass(frozen=True)
class SignerFacts:
    """The signer certificate of a list, as found in its KeyInfo."""

    subject: str
    common_name: str | None
    organisational_unit: str | None
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    sha256: str
    signing_time: str | None


@dataclass(frozen=True)
class WhitelistVerification:
    """The outcome: `ok` only when no error finding was raised."""

    findings: tuple[Finding, ...]
    signer: SignerFacts | None = None
    document: Whitelist | None = None
    at: datetime | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.document is not None and not any(
            f.severity is Severity.ERROR for f in self.findings
        )


def _first_attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def verify_whitelist(
    source: bytes | Path,
    *,
    anchors: Sequence[x509.Certificate] = (),
    crl: RevocationList | None = None,
    expected: SignerExpectation | None = ANS_SIGNER,
    at: datetime | None = None,
) -> WhitelistVerification:
    """Verify a list's signature, signer and content at time `at` (default now, UTC)."""
    when = utc(at)
    data = read_bytes(source) if isinstance(source, Path) else source
    try:
        root = parse_xml(data)
        document = read_document(root)
    except InputError as exc:
        return WhitelistVerification((rules.WL_MALFORMED.finding(str(exc), LOC),), at=when)
    signatures = root.findall(f".//{{{DS}}}Signature")
    if not signatures:
        finding = rules.WL_UNSIGNED.finding("the list has no ds:Signature element", LOC)
        return WhitelistVerification((finding,), document=document, at=when)
    return _Verifier(root, document, signatures, when).run(anchors, crl, expected)


class _Verifier:
    def __init__(
        self,
        root: etree._Element,
        document: Whitelist,
        signatures: list[etree._Element],
        at: datetime,
    ) -> None:
        self.root = root
        self.document = document
        self.signatures = signatures
        self.at = at
        self.findings: list[Finding] = []

    def done(self, signer: SignerFacts | None = None) -> WhitelistVerification:
        return WhitelistVerification(tuple(self.findings), signer, self.document, self.at)

    def run(
        self,
        anchors: Sequence[x509.Certificate],
        crl: RevocationList | None,
        expected: SignerExpectation | None,
    ) -> WhitelistVerification:
        signature = self.signatures[0]
        scope = self._scope_problem(signature)
        if scope:
            self.findings.append(rules.WL_SIGNATURE_SCOPE.finding(scope, LOC))
            return self.done()
        certs = self._embedded_certificates(signature)
        if not certs:
            self.findings.append(
                rules.WL_SIGNATURE_INVALID.finding("KeyInfo holds no X509Certificate", LOC)
            )
            return self.done()
        signer_cert = certs[0]
        facts = self._facts(signature, signer_cert)
        try:
            context = xmlsec.SignatureContext()
            context.key = xmlsec.Key.from_memory(
                signer_cert.public_bytes(serialization.Encoding.DER),
                xmlsec.constants.KeyDataFormatCertDer,
            )
            xmlsec.tree.add_ids(self.root, ["Id"])
            context.verify(signature)
        except xmlsec.Error as exc:
            self.findings.append(
                rules.WL_SIGNATURE_INVALID.finding(
                    f"the signature does not verify with the embedded signer certificate "
                    f"({exc}): the list was changed after signing or the signature is forged",
                    LOC,
                )
            )
            return self.done(facts)
        self._check_signing_certificate(signature, signer_cert)
        self._check_signer(signer_cert, expected)
        self._check_trust(signer_cert, certs[1:], anchors, crl)
        return self.done(facts)

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
    def _facts(signature: etree._Element, cert: x509.Certificate) -> SignerFacts:
        time = signature.find(f".//{{{XADES}}}SigningTime")
        return SignerFacts(
            subject=cert.subject.rfc4514_string(),
            common_name=_first_attr(cert.subject, x509.NameOID.COMMON_NAME),
            organisational_unit=_first_attr(cert.subject, x509.NameOID.ORGANIZATIONAL_UNIT_NAME),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
            signing_time=None if time is None else (time.text or "").strip(),
        )

    def _check_signing_certificate(self, signature: etree._Element, cert: x509.Certificate) -> None:
        # Only meaningful when SignedProperties is itself covered by a verified reference.
        covered = signature.find(
            f"{{{DS}}}SignedInfo/{{{DS}}}Reference[@Type='{SIGNED_PROPERTIES}']"
        )
        digest_node = signature.find(
            f".//{{{XADES}}}SignedProperties//{{{XADES}}}SigningCertificateV2//{{{XADES}}}CertDigest"
        )
        if covered is None or digest_node is None:
            self.findings.append(
                rules.WL_SIGNING_CERT_MISMATCH.finding(
                    "no signed XAdES SigningCertificateV2 binds the signer certificate", LOC
                )
            )
            return
        method = digest_node.find(f"{{{DS}}}DigestMethod")
        value = digest_node.find(f"{{{DS}}}DigestValue")
        algorithm = DIGESTS.get("" if method is None else method.get("Algorithm", ""))
        der = cert.public_bytes(serialization.Encoding.DER)
        if algorithm is None or value is None:
            problem = "SigningCertificateV2 uses an unknown digest algorithm"
        elif base64.b64decode(value.text or "") != algorithm(der).digest():
            problem = "SigningCertificateV2 digest does not match the embedded signer certificate"
        else:
            return
        self.findings.append(rules.WL_SIGNING_CERT_MISMATCH.finding(problem, LOC))

    def _check_signer(self, cert: x509.Certificate, expected: SignerExpectation | None) -> None:
        if expected is not None:
            cn = _first_attr(cert.subject, x509.NameOID.COMMON_NAME) or ""
            ou = _first_attr(cert.subject, x509.NameOID.ORGANIZATIONAL_UNIT_NAME) or ""
            if (
                _norm(cn) != _norm(expected.common_name)
                or ou.strip() != expected.organisational_unit
            ):
                self.findings.append(
                    rules.WL_SIGNER_UNEXPECTED.finding(
                        "the list is signed by an unexpected certificate",
                        LOC,
                        expected=f"CN={expected.common_name},OU={expected.organisational_unit}",
                        actual=f"CN={cn},OU={ou}",
                    )
                )
        problem = validity_problem(cert, self.at)
        if problem:
            self.findings.append(
                rules.WL_SIGNER_EXPIRED.finding(
                    f"the signer certificate {cert.subject.rfc4514_string()} is {problem} "
                    f"(validation time {self.at.isoformat()}); the signature value itself verifies",
                    LOC,
                    expected=f"valid at {self.at.isoformat()}",
                    actual=f"{cert.not_valid_before_utc.isoformat()} to "
                    f"{cert.not_valid_after_utc.isoformat()}",
                )
            )

    def _check_trust(
        self,
        cert: x509.Certificate,
        embedded: Sequence[x509.Certificate],
        anchors: Sequence[x509.Certificate],
        crl: RevocationList | None,
    ) -> None:
        if not anchors:
            self.findings.append(
                rules.WL_TRUST_NOT_CHECKED.finding(
                    "no trust anchors configured: the signer's chain was not checked", LOC
                )
            )
        else:
            # Validity is WL-006's business: check the path as of the signer's own validity.
            chain = verify_chain(cert, [*embedded, *anchors], anchors, self._path_time(cert))
            if not chain.ok:
                self.findings.append(
                    rules.WL_SIGNER_UNTRUSTED.finding(
                        f"the signer does not chain to a configured anchor: {chain.problem}", LOC
                    )
                )
        if crl is None:
            self.findings.append(
                rules.WL_TRUST_NOT_CHECKED.finding(
                    "no CRL configured: the signer's revocation status was not checked", LOC
                )
            )
            return
        status = crl.check(cert, self.at)
        if status.status is Revocation.REVOKED:
            self.findings.append(rules.WL_SIGNER_REVOKED.finding(status.detail, LOC))
        elif status.status is Revocation.UNKNOWN:
            self.findings.append(rules.WL_REVOCATION_UNKNOWN.finding(status.detail, LOC))

    def _path_time(self, cert: x509.Certificate) -> datetime:
        if validity_problem(cert, self.at) is None:
            return self.at
        return cert.not_valid_before_utc
