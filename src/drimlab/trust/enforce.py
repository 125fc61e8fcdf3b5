"""Enforcement hooks the simulators call: is this TLS peer a trusted, listed DRIMBox?

Every refusal is a Finding with its own TLS-NNN or WL-NNN code. Two moments:

- during the handshake, OpenSSL refuses what it can see (no certificate, unknown or rogue CA,
  expired, not yet valid, wrong usage, TLS < 1.2); `HandshakeRefusals.record` (given to
  `tls.server_context(on_failure=...)`) classifies each `ssl.SSLError` into a Finding;
- after it, the application checks what OpenSSL does not: revocation against our CRL, the
  whitelist (DN of a client; host and DN of a source), the IDNST shape, the cipher policy.
  `check_client` and `check_server` return those Findings (empty: accepted).
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from drimlab.trust.peer import ChainStatus, PeerCertificate, RevocationStatus
from drimlab.trust.pki_verify import Revocation, RevocationList, utc, validity_problem
from drimlab.trust.tls import ALLOWED_CIPHERS
from drimlab.trust.whitelist import Whitelist
from drimlab.validation.findings import Finding, Location
from drimlab.validation.rules import Rule
from drimlab.validation.rulesets import trust as rules

IDNST = re.compile(r"^3\d{14}$")
OLD_PROTOCOLS = frozenset({"SSLv3", "TLSv1", "TLSv1.1"})
CLIENT = Location(path="client certificate")
SERVER = Location(path="server certificate")
HANDSHAKE = Location(path="TLS handshake")

# OpenSSL X509_V_ERR_* codes (x509_vfy.h) that name a specific refusal.
_VERIFY_CODES: dict[int, Rule] = {
    9: rules.CERT_NOT_YET_VALID,  # X509_V_ERR_CERT_NOT_YET_VALID
    10: rules.CERT_EXPIRED,  # X509_V_ERR_CERT_HAS_EXPIRED
    23: rules.CERT_REVOKED,  # X509_V_ERR_CERT_REVOKED
    26: rules.CERT_WRONG_USAGE,  # X509_V_ERR_INVALID_PURPOSE
    62: rules.HOSTNAME_MISMATCH,  # X509_V_ERR_HOSTNAME_MISMATCH
    64: rules.HOSTNAME_MISMATCH,  # X509_V_ERR_IP_ADDRESS_MISMATCH
}
# OpenSSL reason strings of a failed handshake, as `ssl.SSLError.reason` gives them.
_REASONS: dict[str, Rule] = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": rules.CLIENT_CERT_MISSING,
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": rules.CLIENT_CERT_MISSING,
    "UNSUPPORTED_PROTOCOL": rules.PROTOCOL_TOO_OLD,
    "TLSV1_ALERT_PROTOCOL_VERSION": rules.PROTOCOL_TOO_OLD,
    "NO_PROTOCOLS_AVAILABLE": rules.PROTOCOL_TOO_OLD,
    "TLSV1_ALERT_UNKNOWN_CA": rules.CERT_UNTRUSTED,
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": rules.CERT_EXPIRED,
    "SSLV3_ALERT_CERTIFICATE_REVOKED": rules.CERT_REVOKED,
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": rules.CERT_WRONG_USAGE,
}


def classify_handshake_error(exc: ssl.SSLError, *, side: str = "server") -> Finding:
    """The Finding for a failed handshake, from the OpenSSL verify code or reason."""
    location = CLIENT if side == "server" else SERVER
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = int(exc.verify_code or 0)
        rule = _VERIFY_CODES.get(code, rules.CERT_UNTRUSTED)
        message = f"handshake refused: {exc.verify_message} (OpenSSL verify code {code})"
        return rule.finding(message, location, actual=str(exc.verify_message))
    reason = str(exc.reason or "")
    rule = _REASONS.get(reason, rules.HANDSHAKE_FAILED)
    if rule is rules.PROTOCOL_TOO_OLD:
        return rule.finding(
            f"handshake refused: the peer offered only a protocol below TLS 1.2 ({reason})",
            HANDSHAKE,
            expected="TLSv1.2 or TLSv1.3",
            actual=reason,
        )
    return rule.finding(
        f"handshake refused: {reason or exc}",
        HANDSHAKE if rule is rules.HANDSHAKE_FAILED else location,
        actual=reason or str(exc),
    )


class HandshakeRefusals:
    """Collects handshake refusals as Findings; pass `record` as `server_context(on_failure=)`."""

    def __init__(self, sink: Callable[[Finding], None] | None = None, *, side: str = "server"):
        self._findings: list[Finding] = []
        self._lock = threading.Lock()
        self._sink = sink
        self._side = side

    def record(self, exc: ssl.SSLError) -> None:
        finding = classify_handshake_error(exc, side=self._side)
        with self._lock:
            self._findings.append(finding)
        if self._sink is not None:
            self._sink(finding)

    @property
    def findings(self) -> tuple[Finding, ...]:
        with self._lock:
            return tuple(self._findings)

    def drain(self) -> list[Finding]:
        """The findings recorded so far, forgetting them."""
        with self._lock:
            taken, self._findings = self._findings, []
        return taken


def _has_usage(cert: x509.Certificate, usage: x509.ObjectIdentifier) -> bool:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no EKU extension: any purpose (RFC 5280 §4.2.1.12)
    return usage in eku


def with_revocation_status(
    peer: PeerCertificate, crl: RevocationList, at: datetime | None = None
) -> PeerCertificate:
    """The peer facts with their revocation status filled from `crl` (for reports)."""
    result = crl.check(peer.certificate, at)
    return peer.with_revocation(_STATUS[result.status])


_STATUS = {
    Revocation.GOOD: RevocationStatus.GOOD,
    Revocation.REVOKED: RevocationStatus.REVOKED,
    Revocation.UNKNOWN: RevocationStatus.UNKNOWN,
}


def _common(
    peer: PeerCertificate,
    *,
    usage: x509.ObjectIdentifier,
    crl: RevocationList | None,
    at: datetime | None,
    location: Location,
) -> tuple[list[Finding], PeerCertificate]:
    """Checks shared by both sides; returns the findings and the peer with its CRL status."""
    findings: list[Finding] = []
    cert = peer.certificate
    when = utc(at)
    if peer.chain_status is not ChainStatus.VERIFIED:
        findings.append(
            rules.CERT_UNTRUSTED.finding(
                "the peer's chain was not verified against the trust anchors", location
            )
        )
    problem = validity_problem(cert, when)
    if problem:
        rule = rules.CERT_EXPIRED if problem.startswith("expired") else rules.CERT_NOT_YET_VALID
        findings.append(rule.finding(f"{peer.subject} is {problem}", location))
    if not _has_usage(cert, usage):
        role = "clientAuth" if usage == ExtendedKeyUsageOID.CLIENT_AUTH else "serverAuth"
        findings.append(
            rules.CERT_WRONG_USAGE.finding(
                f"{peer.subject} has no {role} extended key usage", location, expected=role
            )
        )
    if crl is not None:
        result = crl.check(cert, when)
        if result.status is Revocation.REVOKED:
            peer = peer.with_revocation(RevocationStatus.REVOKED)
            findings.append(
                rules.CERT_REVOKED.finding(f"{peer.subject}: {result.detail}", location)
            )
        elif result.status is Revocation.UNKNOWN:
            peer = peer.with_revocation(RevocationStatus.UNKNOWN)
            findings.append(rules.REVOCATION_UNKNOWN.finding(result.detail, location))
        else:
            peer = peer.with_revocation(RevocationStatus.GOOD)
    if peer.tls_version in OLD_PROTOCOLS:
        findings.append(
            rules.PROTOCOL_TOO_OLD.finding(
                f"negotiated {peer.tls_version}",
                HANDSHAKE,
                expected="TLSv1.2 or TLSv1.3",
                actual=peer.tls_version,
            )
        )
    if peer.cipher is not None and peer.cipher not in ALLOWED_CIPHERS:
        findings.append(
            rules.CIPHER_OUTSIDE_POLICY.finding(
                f"negotiated cipher {peer.cipher}", HANDSHAKE, actual=peer.cipher
            )
        )
    if not IDNST.match(peer.organisational_unit or ""):
        findings.append(
            rules.SUBJECT_OU_NOT_IDNST.finding(
                f"subject OU {peer.organisational_unit!r} is not an IDNST",
                location,
                expected="3 followed by a 14-digit SIRET",
                actual=peer.organisational_unit,
            )
        )
    return findings, peer


def check_client(
    peer: PeerCertificate | None,
    whitelist: Whitelist,
    *,
    crl: RevocationList | None = None,
    at: datetime | None = None,
) -> list[Finding]:
    """Server side: may this client certificate retrieve images? Empty list means yes."""
    if peer is None:
        return [rules.CLIENT_CERT_MISSING.finding("the client presented no certificate", CLIENT)]
    findings, peer = _common(
        peer, usage=ExtendedKeyUsageOID.CLIENT_AUTH, crl=crl, at=at, location=CLIENT
    )
    if whitelist.domain_for_dn(peer.subject) is None:
        findings.append(
            rules.WL_PEER_DN_NOT_LISTED.finding(
                "the client certificate's DN is no DNCertificatOperateur of the whitelist",
                CLIENT,
                actual=peer.subject,
            )
        )
    return findings


def check_server(
    host: str,
    peer: PeerCertificate | None,
    whitelist: Whitelist,
    *,
    crl: RevocationList | None = None,
    at: datetime | None = None,
) -> list[Finding]:
    """Client side: is `host` a listed source and is `peer` the certificate listed for it?"""
    if peer is None:
        return [rules.CERT_UNTRUSTED.finding("the server presented no certificate", SERVER)]
    findings, peer = _common(
        peer, usage=ExtendedKeyUsageOID.SERVER_AUTH, crl=crl, at=at, location=SERVER
    )
    domains = whitelist.domains_for_host(host)
    if not domains:
        findings.append(
            rules.WL_PEER_HOST_NOT_LISTED.finding(
                f"host {host!r} is the db of no whitelist domain", SERVER, actual=host
            )
        )
    elif not any(d.matches_dn(peer.subject) for d in domains):
        findings.append(
            rules.WL_PEER_DN_HOST_MISMATCH.finding(
                f"host {host!r} is listed, but its certificate DN is not the one listed for it",
                SERVER,
                expected=domains[0].dn_certificat_operateur,
                actual=peer.subject,
            )
        )
    return findings
