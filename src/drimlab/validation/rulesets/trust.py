"""TLS-NNN (mutual TLS between DRIMBoxes) and WL-020..022 (the peer against the whitelist).

Every rule judges the `TlsSubject` of one connection: a refused handshake (who refused, and
OpenSSL's reason or verify code), or a completed one (version, cipher, the peer's chain and
the bench's CRL and whitelist lookups, recorded as facts by `drimlab.trust.enforce`). The
bench is `server` (a consumer under test connected to the server simulator) or `client` (the
client simulator connected to a source under test): locations and advice follow the role.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.facts.tls import HandshakeFailure, Listing, RefusedBy, Revocation, Role, TlsFacts
from drimlab.policy import ALLOWED_CIPHERS, CLIENT_AUTH, IDNST, OLD_PROTOCOLS, SERVER_AUTH
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE, CheckFunction, Kind, Rule
from drimlab.validation.subjects import NotApplicable, TlsSubject

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
    check: CheckFunction,
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
        subject=Kind.TLS,
        check=check,
    )


CLIENT = Location(path="client certificate")
SERVER = Location(path="server certificate")
HANDSHAKE = Location(path="TLS handshake")
TRANSPORT = Location(path="transport")

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) that name a specific refusal; others: TLS-002.
VERIFY_CODES: dict[int, str] = {
    9: "TLS-004",  # X509_V_ERR_CERT_NOT_YET_VALID
    10: "TLS-003",  # X509_V_ERR_CERT_HAS_EXPIRED
    23: "TLS-005",  # X509_V_ERR_CERT_REVOKED
    26: "TLS-006",  # X509_V_ERR_INVALID_PURPOSE
    62: "TLS-012",  # X509_V_ERR_HOSTNAME_MISMATCH
    64: "TLS-012",  # X509_V_ERR_IP_ADDRESS_MISMATCH
}
# OpenSSL reasons of a handshake the bench itself refused; others: TLS-009.
REASONS: dict[str, str] = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "TLS-001",
    "UNSUPPORTED_PROTOCOL": "TLS-007",
    "NO_PROTOCOLS_AVAILABLE": "TLS-007",
    "TLSV1_ALERT_PROTOCOL_VERSION": "TLS-007",
}
# TLS alerts a peer sends when it refuses the certificate the bench presented.
CERTIFICATE_ALERTS = frozenset(
    {
        "TLSV1_ALERT_UNKNOWN_CA",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    }
)


def _peer_location(facts: TlsFacts) -> Location:
    return CLIENT if facts.role is Role.SERVER else SERVER


def _peer_name(facts: TlsFacts) -> str:
    return "client" if facts.role is Role.SERVER else "server"


def classify(handshake: HandshakeFailure) -> str:
    """The TLS rule code a handshake refused by the bench falls under."""
    if handshake.verify_code is not None:
        return VERIFY_CODES.get(handshake.verify_code, "TLS-002")
    return REASONS.get(handshake.reason, "TLS-009")


def _bench_refusal(subject: TlsSubject, code: str) -> Iterator[Finding]:
    """The finding of a handshake the bench refused, when it falls under rule `code`."""
    facts = subject.require_tls()
    handshake = facts.handshake
    if handshake is None or handshake.refused_by is not RefusedBy.BENCH:
        return
    if classify(handshake) != code:
        return
    rule = CATALOGUE[code]
    if handshake.verify_code is not None:
        yield rule.finding(
            f"the bench refused the handshake: the {_peer_name(facts)} certificate failed "
            f"verification: {handshake.verify_message} "
            f"(OpenSSL verify code {handshake.verify_code})",
            _peer_location(facts),
            actual=handshake.verify_message,
        )
    elif code == "TLS-007":
        yield rule.finding(
            f"the bench refused the handshake: the {_peer_name(facts)} offered only a protocol "
            f"below TLS 1.2 ({handshake.reason})",
            HANDSHAKE,
            expected="TLSv1.2 or TLSv1.3",
            actual=handshake.reason,
        )
    else:
        where = HANDSHAKE if code == "TLS-009" else _peer_location(facts)
        yield rule.finding(
            f"the bench refused the handshake: {handshake.message or handshake.reason}",
            where,
            actual=handshake.reason or handshake.message,
        )


def _completed(subject: TlsSubject) -> TlsFacts:
    """The facts of a handshake that completed (a refused one: not applicable)."""
    facts = subject.require_tls()
    if facts.handshake is not None:
        raise NotApplicable
    return facts


def _handshake_or_peer(subject: TlsSubject, code: str) -> Iterator[Finding]:
    """Rules that judge both moments: a refusal under this code, or the completed peer."""
    facts = subject.require_tls()
    if facts.handshake is not None:
        if facts.handshake.refused_by is not RefusedBy.BENCH:
            raise NotApplicable
        yield from _bench_refusal(subject, code)
        return
    if facts.peer is None:
        raise NotApplicable


def client_cert_missing(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.require_tls()
    if facts.handshake is not None:
        yield from _bench_refusal(subject, "TLS-001")
        return
    if facts.role is not Role.SERVER:
        raise NotApplicable
    if facts.peer is None:
        yield CATALOGUE["TLS-001"].finding("the client presented no certificate", CLIENT)


def cert_untrusted(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.require_tls()
    if facts.handshake is not None:
        yield from _handshake_or_peer(subject, "TLS-002")
        return
    rule = CATALOGUE["TLS-002"]
    if facts.peer is None:
        if facts.role is Role.CLIENT:
            yield rule.finding("the server presented no certificate", SERVER)
            return
        raise NotApplicable
    if not facts.chain_verified:
        yield rule.finding(
            f"the {_peer_name(facts)}'s chain was not verified against the trust anchors",
            _peer_location(facts),
            actual=facts.peer.issuer,
        )


def _validity(subject: TlsSubject, code: str) -> Iterator[Finding]:
    yield from _handshake_or_peer(subject, code)
    facts = subject.facts
    peer = facts.peer
    if facts.handshake is not None or peer is None:
        return
    at = subject.at
    if code == "TLS-003" and at > peer.not_after:
        yield CATALOGUE[code].finding(
            f"{peer.subject} expired on {peer.not_after.isoformat()}",
            _peer_location(facts),
            expected=f"valid at {at.isoformat()}",
            actual=f"notAfter {peer.not_after.isoformat()}",
        )
    if code == "TLS-004" and at < peer.not_before:
        yield CATALOGUE[code].finding(
            f"{peer.subject} is not valid before {peer.not_before.isoformat()}",
            _peer_location(facts),
            expected=f"valid at {at.isoformat()}",
            actual=f"notBefore {peer.not_before.isoformat()}",
        )


def cert_expired(subject: TlsSubject) -> Iterator[Finding]:
    yield from _validity(subject, "TLS-003")


def cert_not_yet_valid(subject: TlsSubject) -> Iterator[Finding]:
    yield from _validity(subject, "TLS-004")


def _revocation(subject: TlsSubject, code: str, status: Revocation) -> Iterator[Finding]:
    yield from _handshake_or_peer(subject, code)
    facts = subject.facts
    if facts.handshake is not None or facts.peer is None:
        return
    if facts.lookups.revocation is Revocation.UNCHECKED:
        raise NotApplicable
    if facts.lookups.revocation is status:
        yield CATALOGUE[code].finding(
            f"{facts.peer.subject}: {facts.lookups.revocation_detail}", _peer_location(facts)
        )


def cert_revoked(subject: TlsSubject) -> Iterator[Finding]:
    yield from _revocation(subject, "TLS-005", Revocation.REVOKED)


def revocation_unknown(subject: TlsSubject) -> Iterator[Finding]:
    yield from _revocation(subject, "TLS-008", Revocation.UNKNOWN)


def cert_wrong_usage(subject: TlsSubject) -> Iterator[Finding]:
    yield from _handshake_or_peer(subject, "TLS-006")
    facts = subject.facts
    peer = facts.peer
    if facts.handshake is not None or peer is None or peer.extended_key_usages is None:
        return
    usage, role = (
        (CLIENT_AUTH, "clientAuth") if facts.role is Role.SERVER else (SERVER_AUTH, "serverAuth")
    )
    if usage not in peer.extended_key_usages:
        yield CATALOGUE["TLS-006"].finding(
            f"{peer.subject} has no {role} extended key usage",
            _peer_location(facts),
            expected=role,
        )


def protocol_too_old(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.require_tls()
    if facts.handshake is not None:
        if facts.handshake.refused_by is not RefusedBy.BENCH:
            raise NotApplicable
        yield from _bench_refusal(subject, "TLS-007")
        return
    if facts.version in OLD_PROTOCOLS:
        yield CATALOGUE["TLS-007"].finding(
            f"negotiated {facts.version}",
            HANDSHAKE,
            expected="TLSv1.2 or TLSv1.3",
            actual=facts.version,
        )


def handshake_failed(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.require_tls()
    if facts.handshake is None or facts.handshake.refused_by is not RefusedBy.BENCH:
        raise NotApplicable
    yield from _bench_refusal(subject, "TLS-009")


def cipher_outside_policy(subject: TlsSubject) -> Iterator[Finding]:
    facts = _completed(subject)
    if facts.cipher is None:
        raise NotApplicable
    if facts.cipher not in ALLOWED_CIPHERS:
        yield CATALOGUE["TLS-010"].finding(
            f"negotiated cipher {facts.cipher}", HANDSHAKE, actual=facts.cipher
        )


def subject_ou_not_idnst(subject: TlsSubject) -> Iterator[Finding]:
    facts = _completed(subject)
    peer = facts.peer
    if peer is None:
        raise NotApplicable
    if not IDNST.match(peer.organisational_unit or ""):
        yield CATALOGUE["TLS-011"].finding(
            f"subject OU {peer.organisational_unit!r} is not an IDNST",
            _peer_location(facts),
            expected="3 followed by a 14-digit SIRET",
            actual=peer.organisational_unit,
        )


def hostname_mismatch(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.require_tls()
    if facts.role is not Role.CLIENT:
        raise NotApplicable
    yield from _handshake_or_peer(subject, "TLS-012")


def plain_http(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.facts
    if facts.tls:
        return
    if facts.role is Role.SERVER:
        message = "served with --insecure-http: no TLS, no client identity"
    else:
        message = "retrieved in plain HTTP (--insecure-http): no TLS, no source identity"
    yield CATALOGUE["TLS-013"].finding(message, TRANSPORT)


def refused_by_peer(subject: TlsSubject) -> Iterator[Finding]:
    facts = subject.require_tls()
    handshake = facts.handshake
    if handshake is not None and handshake.refused_by is not RefusedBy.PEER:
        return
    if handshake is None:
        return
    alert = handshake.reason or handshake.message
    hint = f" ({facts.trust_hint})" if facts.trust_hint else ""
    if facts.role is Role.SERVER:
        peer, mine = "consumer", "server certificate"
        advice = f"make the consumer trust the bench's CA bundle{hint}"
    else:
        peer, mine = "source", "client certificate"
        advice = (
            f"make the source trust the bench's CA bundle{hint} and list the bench consumer's DN"
        )
    if alert in CERTIFICATE_ALERTS:
        message = f"the {peer} refused the bench's {mine} (alert {alert}): {advice}"
    else:
        message = f"the {peer} ended the handshake with alert {alert}"
    yield CATALOGUE["TLS-014"].finding(message, HANDSHAKE, actual=alert)


def _listing(subject: TlsSubject, role: Role) -> TlsFacts:
    facts = _completed(subject)
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
    "CA, or not from the certificate's issuer.",
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
    check=peer_dn_not_listed,
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
)
