"""The checks of the TLS rules (declared in `rulesets/trust.py`) over a connection's facts.

A refused handshake is classified from OpenSSL's verify code or reason (`classify`); a
completed one is judged from the peer's chain, the negotiated parameters and the bench's
lookups. The bench's role decides locations and advice.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.facts.tls import HandshakeFailure, RefusedBy, Revocation, Role, TlsFacts
from drimlab.policy import ALLOWED_CIPHERS, CLIENT_AUTH, IDNST, OLD_PROTOCOLS, SERVER_AUTH
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable, TlsSubject

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


def peer_location(facts: TlsFacts) -> Location:
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
            peer_location(facts),
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
        where = HANDSHAKE if code == "TLS-009" else peer_location(facts)
        yield rule.finding(
            f"the bench refused the handshake: {handshake.message or handshake.reason}",
            where,
            actual=handshake.reason or handshake.message,
        )


def completed(subject: TlsSubject) -> TlsFacts:
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
            peer_location(facts),
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
            peer_location(facts),
            expected=f"valid at {at.isoformat()}",
            actual=f"notAfter {peer.not_after.isoformat()}",
        )
    if code == "TLS-004" and at < peer.not_before:
        yield CATALOGUE[code].finding(
            f"{peer.subject} is not valid before {peer.not_before.isoformat()}",
            peer_location(facts),
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
        if status is Revocation.UNKNOWN and facts.lookups.revocation_soft_fail:
            yield CATALOGUE[code].finding(
                f"{facts.peer.subject}: {facts.lookups.revocation_detail}; the bench admitted "
                "the client anyway (its policy for a stale CRL is to warn: --stale-crl warn)",
                peer_location(facts),
                severity=Severity.WARNING,
            )
            return
        yield CATALOGUE[code].finding(
            f"{facts.peer.subject}: {facts.lookups.revocation_detail}", peer_location(facts)
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
            peer_location(facts),
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
    facts = completed(subject)
    if facts.cipher is None:
        raise NotApplicable
    if facts.cipher not in ALLOWED_CIPHERS:
        yield CATALOGUE["TLS-010"].finding(
            f"negotiated cipher {facts.cipher}", HANDSHAKE, actual=facts.cipher
        )


def subject_ou_not_idnst(subject: TlsSubject) -> Iterator[Finding]:
    facts = completed(subject)
    peer = facts.peer
    if peer is None:
        raise NotApplicable
    if not IDNST.match(peer.organisational_unit or ""):
        yield CATALOGUE["TLS-011"].finding(
            f"subject OU {peer.organisational_unit!r} is not an IDNST",
            peer_location(facts),
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
