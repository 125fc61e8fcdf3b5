"""WL-001..011: the DRIM-M whitelist document and its signature.

Every rule judges the `WhitelistFacts` that `drimlab.trust.whitelist.inspect_whitelist`
recorded: parse, signature scope, xmlsec's verification, the XAdES binding, the signer's
identity and validity at the validation time, its chain and its revocation. A step that was not
reached leaves its facts at None and the rules that need it are not applicable. The peer
rules WL-020..022 judge a connection's peer against the list (a `TlsSubject`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from drimlab.facts.tls import CertificateFacts, Listing, Revocation, Role, TlsFacts
from drimlab.facts.whitelist import ChainCheck, WhitelistFacts
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.references import (
    DRIMM_TRUST,
    DRIMM_WL,
    FILTER2,
    RFC5280_CRL,
    RFC5280_PATH,
    XADES,
    XMLDSIG,
)
from drimlab.validation.rules import CATALOGUE, Kind, Rule, declare
from drimlab.validation.subjects import NotApplicable, TlsSubject
from drimlab.validation.tls_checks import CLIENT, SERVER, completed

LOC = Location(path="ListeBlancheDRIM-M")
E, W = Severity.ERROR, Severity.WARNING


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


def _rule(code: str, name: str, severity: Severity, summary: str, **doc: Any) -> Rule:
    return declare(code, name, severity, summary, subject=doc.pop("subject", Kind.WHITELIST), **doc)


def _readable(facts: WhitelistFacts) -> WhitelistFacts:
    if facts.malformed is not None:
        raise NotApplicable
    return facts


def _signed(facts: WhitelistFacts) -> WhitelistFacts:
    if _readable(facts).signatures == 0:
        raise NotApplicable
    return facts


def _verified_signer(facts: WhitelistFacts) -> CertificateFacts:
    """The signer of a signature that verified (earlier failures: not applicable)."""
    if not _signed(facts).signature_verified or facts.signer is None:
        raise NotApplicable
    return facts.signer


def malformed(facts: WhitelistFacts) -> Iterator[Finding]:
    if facts.malformed is not None:
        yield CATALOGUE["WL-001"].finding(facts.malformed, LOC)


def unsigned(facts: WhitelistFacts) -> Iterator[Finding]:
    if _readable(facts).signatures == 0:
        yield CATALOGUE["WL-002"].finding("the list has no ds:Signature element", LOC)


def signature_scope(facts: WhitelistFacts) -> Iterator[Finding]:
    if _signed(facts).scope_problem is not None:
        yield CATALOGUE["WL-004"].finding(str(facts.scope_problem), LOC)


def signature_invalid(facts: WhitelistFacts) -> Iterator[Finding]:
    if _signed(facts).scope_problem is not None:
        raise NotApplicable
    if facts.signature_error is not None:
        yield CATALOGUE["WL-003"].finding(facts.signature_error, LOC)


def signing_certificate_mismatch(facts: WhitelistFacts) -> Iterator[Finding]:
    _verified_signer(facts)
    if facts.signing_certificate_problem is not None:
        yield CATALOGUE["WL-010"].finding(facts.signing_certificate_problem, LOC)


def signer_unexpected(facts: WhitelistFacts) -> Iterator[Finding]:
    signer = _verified_signer(facts)
    expected = facts.expected_signer
    if expected is None:
        raise NotApplicable
    cn = signer.common_name or ""
    ou = (signer.organisational_unit or "").strip()
    if _norm(cn) != _norm(expected.common_name) or ou != expected.organisational_unit:
        yield CATALOGUE["WL-005"].finding(
            "the list is signed by an unexpected certificate",
            LOC,
            expected=f"CN={expected.common_name},OU={expected.organisational_unit}",
            actual=f"CN={cn},OU={ou}",
        )


def signer_expired(facts: WhitelistFacts) -> Iterator[Finding]:
    signer = _verified_signer(facts)
    at = facts.at
    if at > signer.not_after:
        problem = f"expired on {signer.not_after.isoformat()}"
    elif at < signer.not_before:
        problem = f"not yet valid: valid from {signer.not_before.isoformat()}"
    else:
        return
    yield CATALOGUE["WL-006"].finding(
        f"the signer certificate {signer.subject} is {problem} "
        f"(validation time {at.isoformat()}); the signature value itself verifies",
        LOC,
        expected=f"valid at {at.isoformat()}",
        actual=f"{signer.not_before.isoformat()} to {signer.not_after.isoformat()}",
    )


def signer_untrusted(facts: WhitelistFacts) -> Iterator[Finding]:
    _verified_signer(facts)
    if facts.chain is ChainCheck.UNCHECKED:
        raise NotApplicable
    if facts.chain is ChainCheck.UNTRUSTED:
        yield CATALOGUE["WL-007"].finding(
            f"the signer does not chain to a configured anchor: {facts.chain_problem}", LOC
        )


def signer_revoked(facts: WhitelistFacts) -> Iterator[Finding]:
    _verified_signer(facts)
    if facts.revocation is Revocation.UNCHECKED:
        raise NotApplicable
    if facts.revocation is Revocation.REVOKED:
        yield CATALOGUE["WL-008"].finding(facts.revocation_detail, LOC)


def revocation_unknown(facts: WhitelistFacts) -> Iterator[Finding]:
    _verified_signer(facts)
    if facts.revocation is Revocation.UNCHECKED:
        raise NotApplicable
    if facts.revocation is Revocation.UNKNOWN:
        yield CATALOGUE["WL-009"].finding(facts.revocation_detail, LOC)


def trust_not_checked(facts: WhitelistFacts) -> Iterator[Finding]:
    _verified_signer(facts)
    rule = CATALOGUE["WL-011"]
    if facts.chain is ChainCheck.UNCHECKED:
        yield rule.finding("no trust anchors configured: the signer's chain was not checked", LOC)
    if facts.revocation is Revocation.UNCHECKED:
        yield rule.finding("no CRL configured: the signer's revocation status was not checked", LOC)


WL_MALFORMED = _rule(
    "WL-001",
    "whitelist-malformed",
    E,
    "The whitelist is not a readable ListeBlancheDRIM-M.",
    what="The document is not well-formed XML, declares a DOCTYPE (a DTD), its root is not "
    "ListeBlancheDRIM-M in namespace https://github.com/ansforge/DRIM-M_DATA, its versionFormat "
    "is unknown, or a Domaine lacks Identifiant, db or DNCertificatOperateur.",
    why="A DRIMBox must refuse a corrupted list rather than trust a partial one. A DTD is "
    "outside the signature's reach yet can change what a parser reads (entities, external "
    "entities, default attributes): a signed list with an injected DTD is refused even though "
    "its signature value verifies.",
    bad="<ListeBlanche><Domaine>... (wrong root, no namespace)",
    good='<ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA" '
    'versionFormat="1.0.0">',
    references=(DRIMM_WL,),
    check=malformed,
)
WL_UNSIGNED = _rule(
    "WL-002",
    "whitelist-unsigned",
    E,
    "The whitelist carries no signature.",
    what="The document has no ds:Signature element.",
    why="The list says which DRIMBoxes may receive health data: only the ANS-signed list counts. "
    "The ANS homologation uses an unsigned list to check that DRIMBoxes refuse it.",
    bad="LISTEBLANCHE_DRIM-M_NONSIGNEE_TEST.xml",
    good="LISTEBLANCHE_DRIM-M_SIGNEE_TEST.xml (enveloped XAdES-BASELINE-B).",
    references=(DRIMM_WL, XADES),
    check=unsigned,
)
WL_SIGNATURE_INVALID = _rule(
    "WL-003",
    "whitelist-signature-invalid",
    E,
    "The whitelist signature does not verify.",
    what="A reference digest or the RSA-SHA256 SignatureValue does not verify with the embedded "
    "signer certificate (the list was changed after signing, or the signature is forged).",
    why="A single changed byte (a host, a DN) would let an unlisted party receive images.",
    bad="A signed list in which one db value was edited after signing.",
    good="The list exactly as signed.",
    references=(XMLDSIG + " §3.2 (core validation)", XADES),
    check=signature_invalid,
)
WL_SIGNATURE_SCOPE = _rule(
    "WL-004",
    "whitelist-signature-scope-incomplete",
    E,
    "The signature does not cover the whole list.",
    what="The signature is not a single ds:Signature child of the root whose first reference "
    'is URI="" with only the enveloped-signature (or XPath Filter 2.0 subtract of '
    "ds:Signature) and exclusive C14N transforms, plus the XAdES SignedProperties reference.",
    why="A signature over part of a document (signature wrapping) verifies while the domains a "
    "DRIMBox reads are unsigned.",
    bad='<ds:Reference URI="#some-other-element"> or two ds:Signature elements.',
    good='<ds:Reference URI=""> with xmldsig-filter2 subtract /descendant::ds:Signature, exc-c14n.',
    references=(XMLDSIG, FILTER2, XADES),
    check=signature_scope,
)
WL_SIGNER_UNEXPECTED = _rule(
    "WL-005",
    "whitelist-signer-unexpected",
    E,
    "The whitelist signer is not the expected one.",
    what="The signer certificate's CN or OU differ from the expected signer "
    "(ANS: CN=Liste Blanche DRIM-M, OU=318751275100020).",
    why="Any IGC-Santé certificate holder can sign an XML file; only the ANS list is trusted.",
    bad="Signed by CN=db175.test.mesimagesmedicales.fr,OU=300000001831981.",
    good="Signed by CN=Liste Blanche DRIM-M,OU=318751275100020,O=AGENCE DU NUMERIQUE EN SANTE.",
    references=(DRIMM_WL, "ANS informatif/listeblanche/Readme.md"),
    check=signer_unexpected,
)
WL_SIGNER_EXPIRED = _rule(
    "WL-006",
    "whitelist-signer-expired",
    E,
    "The whitelist signer certificate is not valid at the validation time.",
    what="The validation time is outside the signer certificate's validity, even if the "
    "signature value still verifies.",
    why="Older ANS lists were signed by a certificate that expired on 2026-09-12; a DRIMBox "
    "must refuse them and fetch the current list.",
    bad="A list signed by a certificate valid until 2026-09-12, verified on 2026-11-29.",
    good="The current list, signer valid 2026-09-14 to 2029-09-14.",
    references=(DRIMM_WL, RFC5280_PATH),
    check=signer_expired,
)
WL_SIGNER_UNTRUSTED = _rule(
    "WL-007",
    "whitelist-signer-untrusted",
    E,
    "The whitelist signer does not chain to the configured IGC-Santé CAs.",
    what="The signer certificate does not verify up to a configured trust anchor (root and "
    "intermediate of IGC-Santé TEST or production).",
    why="Embedded certificates prove nothing by themselves: anyone can embed a look-alike chain.",
    bad="A list signed by a look-alike 'TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS'.",
    good="Signer <- TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS <- TEST AC RACINE IGC-SANTE "
    "ELEMENTAIRE (configured anchors).",
    references=(DRIMM_WL, RFC5280_PATH),
    check=signer_untrusted,
)
WL_SIGNER_REVOKED = _rule(
    "WL-008",
    "whitelist-signer-revoked",
    E,
    "The whitelist signer certificate is revoked.",
    what="The signer's serial number is on the issuing CA's CRL.",
    why="A revoked signer may have lost its key; its lists cannot be trusted.",
    bad="Signer serial listed on ACI-EL-ORG-TEST.crl.",
    good="Signer serial absent from a fresh, verified CRL.",
    references=(DRIMM_WL, RFC5280_CRL),
    check=signer_revoked,
)
WL_REVOCATION_UNKNOWN = _rule(
    "WL-009",
    "whitelist-signer-revocation-unknown",
    E,
    "The whitelist signer's revocation status could not be established.",
    what="The configured CRL is stale, not yet valid, not from the signer's issuer or its "
    "signature does not verify.",
    why="Without a usable CRL a revoked signer would be accepted.",
    bad="A CRL whose nextUpdate has passed.",
    good="A CRL within its validity window, signed by the signer's issuing CA.",
    references=(RFC5280_CRL,),
    check=revocation_unknown,
)
WL_SIGNING_CERT_MISMATCH = _rule(
    "WL-010",
    "whitelist-signing-certificate-mismatch",
    E,
    "The XAdES SigningCertificateV2 does not name the signer certificate.",
    what="The signed property SigningCertificateV2 is missing, or its digest does not match the "
    "certificate whose key verified the signature.",
    why="XAdES binds the signer certificate into the signed data so it cannot be swapped.",
    bad="CertDigest of another certificate.",
    good="CertDigest (SHA-512 in the ANS list) of the embedded signer certificate.",
    references=(XADES + " §5.2.2",),
    check=signing_certificate_mismatch,
)
WL_TRUST_NOT_CHECKED = _rule(
    "WL-011",
    "whitelist-trust-not-checked",
    W,
    "The signer's chain or revocation was not checked: nothing was configured.",
    what="No trust anchors (or no CRL) were given, so only the signature value, the signer's "
    "identity and validity were checked.",
    why="A complete verification, as the ANS asks, also checks the chain and the CRL.",
    bad="drimlab whitelist verify signed.xml",
    good="drimlab whitelist verify signed.xml --ca igc-sante-test.pem --crl ACI-EL-ORG-TEST.crl",
    references=(DRIMM_WL, "ANS informatif/listeblanche/Readme.md"),
    check=trust_not_checked,
)


def _listing(subject: TlsSubject, role: Role) -> TlsFacts:
    facts = completed(subject)
    if facts.role is not role or facts.peer is None:
        raise NotApplicable
    return facts


def peer_dn_not_listed(subject: TlsSubject) -> Iterator[Finding]:
    facts = _listing(subject, Role.SERVER)
    if facts.lookups.dn_listing is Listing.UNCHECKED:
        raise NotApplicable
    if facts.lookups.dn_listing is Listing.NOT_LISTED:
        assert facts.peer is not None
        yield CATALOGUE["WL-020"].finding(
            "the client certificate's DN is no DNCertificatOperateur of the whitelist",
            CLIENT,
            actual=facts.peer.subject,
        )


def peer_host_not_listed(subject: TlsSubject) -> Iterator[Finding]:
    facts = _listing(subject, Role.CLIENT)
    lookups = facts.lookups
    if lookups.host_listing is Listing.UNCHECKED:
        raise NotApplicable
    if lookups.host_listing is Listing.NOT_LISTED:
        yield CATALOGUE["WL-021"].finding(
            f"host {lookups.host!r} is the db of no whitelist domain", SERVER, actual=lookups.host
        )


def peer_dn_host_mismatch(subject: TlsSubject) -> Iterator[Finding]:
    facts = _listing(subject, Role.CLIENT)
    lookups = facts.lookups
    if lookups.host_listing is not Listing.LISTED or lookups.dn_matches_host is None:
        raise NotApplicable
    if not lookups.dn_matches_host:
        assert facts.peer is not None
        yield CATALOGUE["WL-022"].finding(
            f"host {lookups.host!r} is listed, but its certificate DN is not the one listed for it",
            SERVER,
            expected=lookups.dns_listed_for_host[0] if lookups.dns_listed_for_host else None,
            actual=facts.peer.subject,
        )


WL_PEER_DN_NOT_LISTED = _rule(
    "WL-020",
    "whitelist-peer-dn-not-listed",
    E,
    "The peer certificate's DN is not on the whitelist.",
    what="The subject DN of the peer certificate equals no DNCertificatOperateur of the list "
    "(RDN by RDN as RFC 5280 §7.1 compares names, case and space insensitive; OU and CN merged "
    "into one multi-valued RDN are not the listed OU and CN).",
    why="A valid IGC-Santé certificate only proves identity; the whitelist grants the right to "
    "take part in DRIM-M.",
    bad="CN=unlisted.drimlab.test,OU=300000000990045,O=DRIMLAB TEST NON REFERENCE,...",
    good="CN=db175.test.mesimagesmedicales.fr,OU=300000001831981,O=MINISTERE DE TEST3198,"
    "ST=Côte-d'Or (21),C=FR",
    references=(DRIMM_WL, DRIMM_TRUST),
    check=peer_dn_not_listed,
    subject=Kind.TLS,
)
WL_PEER_HOST_NOT_LISTED = _rule(
    "WL-021",
    "whitelist-peer-host-not-listed",
    E,
    "The source's host is not the db of any listed domain.",
    what="The host a consumer is about to retrieve from (taken from the KOS Retrieve URL) is not "
    "a `db` value of the list.",
    why="A forged KOS could point a consumer at an attacker's server with a valid certificate.",
    bad="Retrieve URL https://evil.example/studies/...",
    good="Retrieve URL https://db175.test.mesimagesmedicales.fr/...",
    references=(DRIMM_WL,),
    check=peer_host_not_listed,
    subject=Kind.TLS,
)
WL_PEER_DN_HOST_MISMATCH = _rule(
    "WL-022",
    "whitelist-peer-dn-host-mismatch",
    E,
    "The source's certificate DN is not the one listed for its host.",
    what="The host is listed, but the server certificate's DN differs from that domain's "
    "DNCertificatOperateur.",
    why="A listed DRIMBox must not be able to answer for another listed DRIMBox's host.",
    bad="db175.test... answered with CN=db178.test...,OU=300000001831999.",
    good="db175.test... answered with the DN listed for db175.",
    references=(DRIMM_WL,),
    check=peer_dn_host_mismatch,
    subject=Kind.TLS,
)
