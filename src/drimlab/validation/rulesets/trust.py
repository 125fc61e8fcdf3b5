"""Trust rules: TLS-NNN (mutual TLS between DRIMBoxes) and WL-NNN (the DRIM-M whitelist).

Their findings are emitted by components (`drimlab.trust.enforce`, `drimlab.trust.whitelist`),
so every rule here has `check=None`; they are catalogued so reports, profiles and the rule
documentation know them.
"""

from __future__ import annotations

from drimlab.validation.findings import Severity
from drimlab.validation.rules import CATALOGUE, Rule

DRIMM_TRUST = "DRIM-M: mutual TLS with IGC-Santé ORG certificates between DRIMBoxes"
DRIMM_WL = "DRIM-M: liste blanche ListeBlancheDRIM-M (ansforge/DRIM-M_DATA, Référencement DRIMBox)"
RFC5280_PATH = "RFC 5280 §6 (certification path validation)"
RFC5280_CRL = "RFC 5280 §5 and §6.3 (CRL validation)"
RFC8446 = "RFC 8446 (TLS 1.3)"
RFC5246 = "RFC 5246 (TLS 1.2) §7.4.6 client certificate"
RFC8996 = "RFC 8996 (deprecating TLS 1.0 and 1.1)"
XMLDSIG = "W3C XML Signature Syntax and Processing 1.1"
XADES = "ETSI EN 319 132-1 (XAdES baseline B)"
FILTER2 = "W3C XML-Signature XPath Filter 2.0"


def _rule(
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    *,
    what: str,
    why: str,
    bad: str,
    good: str,
    references: tuple[str, ...],
    subject: str,
) -> Rule:
    return CATALOGUE.declare(
        code,
        name,
        severity=severity,
        summary=summary,
        what=what,
        why=why,
        bad=bad,
        good=good,
        references=references,
        subject=subject,
    )


E, W = Severity.ERROR, Severity.WARNING
_PEER_WHY = "A DRIMBox must refuse any peer it cannot authenticate: images are health data."

CLIENT_CERT_MISSING = _rule(
    "TLS-001",
    "tls-client-certificate-missing",
    E,
    "The client presented no certificate.",
    what="The TLS client completed (or tried) the handshake without a client certificate.",
    why=_PEER_WHY + " DRIM-M exchanges are mutual TLS: the source identifies the consumer by it.",
    bad="curl https://source/... (no --cert): handshake refused, 'peer did not return a "
    "certificate'.",
    good="curl --cert consumer.pem --key consumer.key --cacert bundle.pem https://source/...",
    references=(DRIMM_TRUST, RFC5246, RFC8446 + " §4.4.2"),
    subject="tls",
)
CERT_UNTRUSTED = _rule(
    "TLS-002",
    "tls-certificate-untrusted",
    E,
    "The peer's certificate does not chain to a trusted IGC-Santé CA.",
    what="The peer's certificate chain does not verify against the configured trust anchors "
    "(unknown CA, look-alike CA with the same names but other keys, self-signed).",
    why=_PEER_WHY + " Only IGC-Santé issued certificates identify a health organisation.",
    bad="A certificate issued by 'TEST AC DRIMLAB ORGANISATIONS' of a rogue hierarchy.",
    good="A certificate issued by the genuine organisations CA, chaining to the root.",
    references=(DRIMM_TRUST, RFC5280_PATH),
    subject="tls",
)
CERT_EXPIRED = _rule(
    "TLS-003",
    "tls-certificate-expired",
    E,
    "The peer's certificate has expired.",
    what="The validation time is after the certificate's notAfter.",
    why="An expired certificate's key may no longer be protected and is no longer on CRLs.",
    bad="notAfter 2026-10-30 used on 2026-11-29.",
    good="notBefore <= now <= notAfter.",
    references=(RFC5280_PATH + " §6.1.3 (a)(2)",),
    subject="tls",
)
CERT_NOT_YET_VALID = _rule(
    "TLS-004",
    "tls-certificate-not-yet-valid",
    E,
    "The peer's certificate is not yet valid.",
    what="The validation time is before the certificate's notBefore.",
    why="A certificate used before its validity period is either mis-issued or a clock fault.",
    bad="notBefore 2026-12-29 used on 2026-11-29.",
    good="notBefore <= now <= notAfter.",
    references=(RFC5280_PATH + " §6.1.3 (a)(2)",),
    subject="tls",
)
CERT_REVOKED = _rule(
    "TLS-005",
    "tls-certificate-revoked",
    E,
    "The peer's certificate is on its CA's CRL.",
    what="The certificate's serial number is listed on the issuing CA's current CRL.",
    why="Revocation is how IGC-Santé withdraws a compromised or retired DRIMBox certificate; "
    "Python's ssl does not check it, so the bench checks the CRL itself.",
    bad="Serial 5f3a... listed on crl/organisations.crl since 2026-11-29.",
    good="Serial absent from a fresh CRL whose signature verifies.",
    references=(RFC5280_CRL, DRIMM_TRUST),
    subject="tls",
)
CERT_WRONG_USAGE = _rule(
    "TLS-006",
    "tls-certificate-wrong-usage",
    E,
    "The certificate's extended key usage does not allow this TLS role.",
    what="A client certificate lacks id-kp-clientAuth, or a server certificate lacks "
    "id-kp-serverAuth, in its extendedKeyUsage.",
    why="IGC-Santé ORG authentication certificates carry both usages; a certificate issued "
    "for another purpose (signature, server only) must not authenticate a DRIMBox client.",
    bad="extendedKeyUsage = serverAuth only, presented as a client certificate.",
    good="extendedKeyUsage = serverAuth, clientAuth.",
    references=("RFC 5280 §4.2.1.12", DRIMM_TRUST),
    subject="tls",
)
PROTOCOL_TOO_OLD = _rule(
    "TLS-007",
    "tls-protocol-too-old",
    E,
    "The peer offered a TLS version below 1.2.",
    what="The negotiated or offered protocol version is SSL 3, TLS 1.0 or TLS 1.1.",
    why="TLS 1.0/1.1 are deprecated (RFC 8996) and refused by DRIMBoxes and the ANS.",
    bad="A ClientHello limited to TLS 1.1: the server answers a protocol_version alert.",
    good="TLS 1.2 with ECDHE + AES-GCM, or TLS 1.3.",
    references=(RFC8996, RFC8446, RFC5246),
    subject="tls",
)
REVOCATION_UNKNOWN = _rule(
    "TLS-008",
    "tls-revocation-unknown",
    E,
    "The peer's revocation status could not be established.",
    what="The configured CRL is stale (past nextUpdate), not yet valid, not signed by a trusted "
    "CA, or not from the certificate's issuer.",
    why="Accepting a peer without a usable CRL would accept a revoked certificate.",
    bad="A CRL whose nextUpdate is last week.",
    good="A CRL fetched from the CRLDP, signed by the issuing CA, within thisUpdate/nextUpdate.",
    references=(RFC5280_CRL,),
    subject="tls",
)
HANDSHAKE_FAILED = _rule(
    "TLS-009",
    "tls-handshake-failed",
    E,
    "The TLS handshake failed for another reason.",
    what="The handshake failed for a reason not covered by a more specific TLS rule (no shared "
    "cipher, plain HTTP sent to a TLS port, malformed record...).",
    why="A DRIMBox that cannot complete a handshake with the bench cannot exchange images.",
    bad="A client offering only RSA key exchange with AES-CBC: 'no shared cipher'.",
    good="A TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 or TLS 1.3 handshake.",
    references=(RFC8446, RFC5246),
    subject="tls",
)
CIPHER_OUTSIDE_POLICY = _rule(
    "TLS-010",
    "tls-cipher-outside-policy",
    W,
    "The negotiated cipher suite is outside the bench's policy.",
    what="The cipher is neither a TLS 1.3 suite nor a TLS 1.2 ECDHE suite with AES-GCM or "
    "CHACHA20-POLY1305.",
    why="Forward secrecy and AEAD are the current ANSSI/IGC-Santé expectations for TLS.",
    bad="TLS 1.2 AES256-SHA (RSA key exchange, CBC).",
    good="ECDHE-RSA-AES256-GCM-SHA384 or TLS_AES_128_GCM_SHA256.",
    references=(RFC5246, RFC8446, "ANSSI guide TLS (recommandations de sécurité)"),
    subject="tls",
)
SUBJECT_OU_NOT_IDNST = _rule(
    "TLS-011",
    "tls-subject-ou-not-idnst",
    W,
    "The certificate subject's OU is not an IDNST.",
    what="The subject OU of an ORG certificate is not an organisation identifier of the form "
    "`3` + 14-digit SIRET.",
    why="IGC-Santé ORG certificates carry the organisation's IDNST in OU; whitelists name it.",
    bad="OU=Radiology",
    good="OU=300000001831981",
    references=(DRIMM_TRUST, "IGC-Santé PC (gamme élémentaire, offre organisation)"),
    subject="tls",
)
HOSTNAME_MISMATCH = _rule(
    "TLS-012",
    "tls-hostname-mismatch",
    E,
    "The server certificate does not name the host.",
    what="No subjectAltName dNSName/iPAddress of the server certificate matches the host the "
    "client connected to.",
    why="Without a host check any listed DRIMBox could impersonate any other one.",
    bad="Connecting to db175.test... and receiving CN=db178.test... with no matching SAN.",
    good="subjectAltName DNS:db175.test.mesimagesmedicales.fr.",
    references=("RFC 6125", "RFC 9110 §4.3.4"),
    subject="tls",
)
PLAIN_HTTP = _rule(
    "TLS-013",
    "exchange-without-tls",
    W,
    "The exchange travelled in plain HTTP, without TLS.",
    what="The request reached the bench (e.g. the server simulator started with "
    "--insecure-http) over plain HTTP: there was no certificate, no peer identity and no "
    "whitelist check.",
    why="DRIM-M allows plain HTTP only for ACME, CRL, CA and OCSP downloads; a WADO-RS exchange "
    "without TLS proves nothing about the trust model and must not be used as evidence.",
    bad="GET http://localhost:8080/dicom-web/studies/... (server started with --insecure-http)",
    good="GET https://localhost:8443/dicom-web/studies/... with a client certificate",
    references=(DRIMM_TRUST, "RFC 9110 §4.2.2"),
    subject="tls",
)

WL_MALFORMED = _rule(
    "WL-001",
    "whitelist-malformed",
    E,
    "The whitelist is not a readable ListeBlancheDRIM-M.",
    what="The document is not well-formed XML, its root is not ListeBlancheDRIM-M in namespace "
    "https://github.com/ansforge/DRIM-M_DATA, its versionFormat is unknown, or a Domaine lacks "
    "Identifiant, db or DNCertificatOperateur.",
    why="A DRIMBox must refuse a corrupted list rather than trust a partial one.",
    bad="<ListeBlanche><Domaine>... (wrong root, no namespace)",
    good='<ListeBlancheDRIM-M xmlns="https://github.com/ansforge/DRIM-M_DATA" '
    'versionFormat="1.0.0">',
    references=(DRIMM_WL,),
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
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
    subject="whitelist",
)
WL_PEER_DN_NOT_LISTED = _rule(
    "WL-020",
    "whitelist-peer-dn-not-listed",
    E,
    "The peer certificate's DN is not on the whitelist.",
    what="The subject DN of the peer certificate equals no DNCertificatOperateur of the list "
    "(attribute by attribute, order and case insensitive).",
    why="A valid IGC-Santé certificate only proves identity; the whitelist grants the right to "
    "take part in DRIM-M.",
    bad="CN=unlisted.drimlab.test,OU=300000000990045,O=DRIMLAB TEST NON REFERENCE,...",
    good="CN=db175.test.mesimagesmedicales.fr,OU=300000001831981,O=MINISTERE DE TEST3198,"
    "ST=Côte-d'Or (21),C=FR",
    references=(DRIMM_WL, DRIMM_TRUST),
    subject="tls",
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
    subject="tls",
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
    subject="tls",
)
