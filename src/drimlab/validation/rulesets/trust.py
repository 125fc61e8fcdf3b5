"""TLS-NNN: mutual TLS between DRIMBoxes (the peer against the whitelist: `whitelist.py`).

Every rule judges the `TlsSubject` of one connection (the checks are in
`validation/tls_checks.py`): a refused handshake (who refused, and OpenSSL's reason or
verify code), or a completed one (version, cipher, the peer's chain and
the bench's CRL and whitelist lookups, recorded as facts by `drimlab.trust.enforce`). The
bench is `server` (a consumer under test connected to the server simulator) or `client` (the
client simulator connected to a source under test): locations and advice follow the role.
"""

from __future__ import annotations

from typing import Any

from drimlab.validation.findings import Severity
from drimlab.validation.references import (
    DRIMM_TRUST,
    RFC5246,
    RFC5280_CRL,
    RFC5280_PATH,
    RFC8446,
    RFC8996,
)
from drimlab.validation.rules import Kind, Rule, declare
from drimlab.validation.tls_checks import (
    cert_expired,
    cert_not_yet_valid,
    cert_revoked,
    cert_untrusted,
    cert_wrong_usage,
    cipher_outside_policy,
    client_cert_missing,
    handshake_failed,
    hostname_mismatch,
    plain_http,
    protocol_too_old,
    refused_by_peer,
    revocation_unknown,
    subject_ou_not_idnst,
)


def _rule(code: str, name: str, severity: Severity, summary: str, **doc: Any) -> Rule:
    return declare(code, name, severity, summary, subject=Kind.TLS, **doc)


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
    check=client_cert_missing,
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
    check=cert_untrusted,
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
    check=cert_expired,
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
    check=cert_not_yet_valid,
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
    check=cert_revoked,
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
    check=cert_wrong_usage,
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
    check=protocol_too_old,
)
REVOCATION_UNKNOWN = _rule(
    "TLS-008",
    "tls-revocation-unknown",
    E,
    "The peer's revocation status could not be established.",
    what="The configured CRL is stale (past nextUpdate), not yet valid, not signed by a trusted "
    "CA, or not from the certificate's issuer. A warning, not an error, when the CRL is only "
    "stale and the bench's policy for a stale CRL is to warn (`drimlab serve --stale-crl warn`): "
    "it then admitted the peer.",
    why="Accepting a peer without a usable CRL would accept a revoked certificate.",
    bad="A CRL whose nextUpdate is last week.",
    good="A CRL fetched from the CRLDP, signed by the issuing CA, within thisUpdate/nextUpdate.",
    references=(RFC5280_CRL,),
    check=revocation_unknown,
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
    check=handshake_failed,
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
    check=cipher_outside_policy,
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
    check=subject_ou_not_idnst,
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
    check=hostname_mismatch,
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
    check=plain_http,
)

REFUSED_BY_PEER = _rule(
    "TLS-014",
    "tls-refused-by-peer",
    E,
    "The peer refused the handshake (it did not accept the bench).",
    what="The peer ended the handshake with a TLS alert: most often it does not trust the "
    "certificate the bench presented (unknown_ca, bad_certificate), or it refused the "
    "protocol or the cipher the bench offered.",
    why="Nothing was exchanged, so nothing about the peer's DICOMweb behaviour was tested; the "
    "report must say that the peer refused the bench, and what to configure, rather than "
    "blame a certificate the peer never presented.",
    bad="A consumer that does not trust the bench CA: the server simulator sees alert "
    "TLSV1_ALERT_UNKNOWN_CA.",
    good="The consumer trusts the bench's CA bundle (drimlab-data/pki/ca/bundle.pem) and the "
    "handshake completes.",
    references=(DRIMM_TRUST, RFC8446 + " §6 (alert protocol)", RFC5246 + " §7.2"),
    check=refused_by_peer,
)
