"""Enforcement: what the bench checks about a TLS peer, recorded as facts; and its refusals.

Two moments:

- during the handshake, OpenSSL refuses what it can see (no certificate, unknown or rogue CA,
  expired, not yet valid, wrong usage, TLS < 1.2); `failed_handshake` records such an
  `ssl.SSLError` as a `HandshakeFailure` saying who refused (the bench, or the peer through an
  alert) and OpenSSL's reason or verify code. `HandshakeRefusals` collects them for a server.
- after it, the bench looks up what OpenSSL does not: revocation in our CRL, the whitelist (the
  DN of a client; the host and DN of a source). `client_facts` and `server_facts` add those
  lookups (`TrustLookups`) to the connection's facts.

Nothing here judges: the TLS and WL rules turn the facts into findings. The server simulator
decides to refuse a request whose client failed a lookup (`client_refusal`), and records that
decision with its cause.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime

from cryptography import x509

from drimlab.facts.decision import Cause, Decision
from drimlab.facts.tls import (
    CertificateFacts,
    HandshakeFailure,
    Listing,
    RefusedBy,
    Revocation,
    Role,
    TlsFacts,
    TrustLookups,
)
from drimlab.trust.peer import TlsConnection, certificate_facts, connection_facts, peer_der
from drimlab.trust.pki_verify import Revocation as CrlStatus
from drimlab.trust.pki_verify import RevocationList, utc
from drimlab.trust.whitelist import Whitelist

ALERT_PREFIXES = ("TLSV1_ALERT_", "SSLV3_ALERT_", "TLSV13_ALERT_")
_REVOCATION = {
    CrlStatus.GOOD: Revocation.GOOD,
    CrlStatus.REVOKED: Revocation.REVOKED,
    CrlStatus.UNKNOWN: Revocation.UNKNOWN,
}


def handshake_failure(exc: ssl.SSLError) -> HandshakeFailure:
    """Who refused a handshake and why, from the `ssl.SSLError` the bench's side raised."""
    reason = str(exc.reason or "")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return HandshakeFailure(
            refused_by=RefusedBy.BENCH,
            reason=reason or "CERTIFICATE_VERIFY_FAILED",
            message=f"certificate verify failed: {exc.verify_message}",
            verify_code=int(exc.verify_code or 0),
            verify_message=str(exc.verify_message),
        )
    by = RefusedBy.PEER if reason.startswith(ALERT_PREFIXES) else RefusedBy.BENCH
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return HandshakeFailure(refused_by=by, reason=reason, message=text.splitlines()[0][:300])


def failed_handshake(
    exc: ssl.SSLError,
    role: Role,
    *,
    peer_address: str | None = None,
    trust_hint: str | None = None,
    presented: Sequence[bytes] = (),
) -> TlsFacts:
    """The facts of a connection whose handshake failed, with the chain the peer presented
    (DER, leaf first) when the TLS layer could see it."""
    return TlsFacts(
        role=role,
        tls=True,
        peer_address=peer_address,
        peer_chain=tuple(_presented_facts(presented)),
        handshake=handshake_failure(exc),
        trust_hint=trust_hint,
    )


def _presented_facts(chain: Sequence[bytes]) -> Iterator[CertificateFacts]:
    for der in chain:
        try:
            yield certificate_facts(der)
        except ValueError:  # a certificate OpenSSL parsed but cryptography does not: skip it
            continue


class HandshakeRefusals:
    """Collects the handshakes a server refused; pass `record` to `server_context(on_failure=)`."""

    def __init__(
        self,
        sink: Callable[[TlsFacts], None] | None = None,
        *,
        trust_hint: str | None = None,
    ) -> None:
        self._seen: list[TlsFacts] = []
        self._lock = threading.Lock()
        self._sink = sink
        self._trust_hint = trust_hint

    def record(
        self, exc: ssl.SSLError, peer_address: str | None = None, presented: Sequence[bytes] = ()
    ) -> None:
        facts = failed_handshake(
            exc,
            Role.SERVER,
            peer_address=peer_address,
            trust_hint=self._trust_hint,
            presented=presented,
        )
        with self._lock:
            self._seen.append(facts)
        if self._sink is not None:
            self._sink(facts)

    @property
    def refused(self) -> tuple[TlsFacts, ...]:
        with self._lock:
            return tuple(self._seen)

    def drain(self) -> list[TlsFacts]:
        """The refusals recorded so far, forgetting them."""
        with self._lock:
            taken, self._seen = self._seen, []
        return taken


def _revocation(
    der: bytes | None, crl: RevocationList | None, at: datetime | None
) -> tuple[Revocation, str, bool]:
    """(status, detail, stale) of the peer certificate in `crl` at `at`."""
    if der is None or crl is None:
        return Revocation.UNCHECKED, "", False
    result = crl.check(x509.load_der_x509_certificate(der), utc(at))
    return _REVOCATION[result.status], result.detail, result.stale


def client_facts(
    conn: TlsConnection | None,
    whitelist: Whitelist | None,
    *,
    crl: RevocationList | None = None,
    at: datetime | None = None,
    peer_address: str | None = None,
    trust_hint: str | None = None,
    accept_stale_crl: bool = False,
) -> TlsFacts:
    """Server side: the client connection's facts with the CRL and whitelist lookups.

    `accept_stale_crl` is the bench's policy for a CRL past its nextUpdate: admit the client
    (the lookup says so, and TLS-008 is then a warning) instead of refusing it.
    """
    if conn is None:
        return TlsFacts(role=Role.SERVER, tls=False, peer_address=peer_address)
    facts = connection_facts(conn, Role.SERVER, peer_address=peer_address, trust_hint=trust_hint)
    return add_client_lookups(
        facts, peer_der(conn), whitelist, crl=crl, at=at, accept_stale_crl=accept_stale_crl
    )


def add_client_lookups(
    facts: TlsFacts,
    der: bytes | None,
    whitelist: Whitelist | None,
    *,
    crl: RevocationList | None = None,
    at: datetime | None = None,
    accept_stale_crl: bool = False,
) -> TlsFacts:
    """The facts with the CRL lookup and the whitelist lookup of the client's DN."""
    status, detail, stale = _revocation(der, crl, at)
    listing, domain = Listing.UNCHECKED, None
    peer = facts.peer
    if whitelist is not None and peer is not None:
        found = whitelist.domain_for_dn(peer.subject)
        listing = Listing.LISTED if found is not None else Listing.NOT_LISTED
        domain = found.identifiant if found is not None else None
    lookups = TrustLookups(
        revocation=status,
        revocation_detail=detail,
        revocation_soft_fail=stale and accept_stale_crl and status is Revocation.UNKNOWN,
        dn_listing=listing,
        listed_domain=domain,
    )
    return replace(facts, lookups=lookups)


def server_facts(
    conn: TlsConnection,
    host: str,
    whitelist: Whitelist | None,
    *,
    crl: RevocationList | None = None,
    at: datetime | None = None,
    peer_address: str | None = None,
    trust_hint: str | None = None,
) -> TlsFacts:
    """Client side: the source connection's facts with the CRL and whitelist lookups."""
    facts = connection_facts(conn, Role.CLIENT, peer_address=peer_address, trust_hint=trust_hint)
    return add_server_lookups(facts, peer_der(conn), host, whitelist, crl=crl, at=at)


def add_server_lookups(
    facts: TlsFacts,
    der: bytes | None,
    host: str,
    whitelist: Whitelist | None,
    *,
    crl: RevocationList | None = None,
    at: datetime | None = None,
) -> TlsFacts:
    """The facts with the CRL lookup and the whitelist lookups of the source's host and DN."""
    status, detail, _ = _revocation(der, crl, at)
    lookups = TrustLookups(revocation=status, revocation_detail=detail, host=host)
    peer = facts.peer
    if whitelist is not None and peer is not None:
        domains = whitelist.domains_for_host(host)
        lookups = replace(
            lookups,
            host_listing=Listing.LISTED if domains else Listing.NOT_LISTED,
            dns_listed_for_host=tuple(d.dn_certificat_operateur for d in domains),
            dn_matches_host=any(d.matches_dn(peer.subject) for d in domains) if domains else None,
            dn_listing=Listing.LISTED
            if whitelist.domain_for_dn(peer.subject) is not None
            else Listing.NOT_LISTED,
        )
    return replace(facts, lookups=lookups)


def client_refusal(facts: TlsFacts) -> Decision | None:
    """The server simulator's decision about a client whose handshake completed (None: admit).

    The simulator refuses (403) a client certificate that is revoked, whose revocation status
    is unknown, or whose DN is not on the whitelist: what OpenSSL cannot check itself.
    """
    if not facts.tls:
        return None
    peer = facts.peer
    if peer is None or not facts.chain_verified:
        return Decision(403, Cause.CERTIFICATE_REFUSED, "no verified client certificate")
    lookups = facts.lookups
    if lookups.revocation is Revocation.REVOKED:
        return Decision(
            403, Cause.CERTIFICATE_REVOKED, f"{peer.subject}: {lookups.revocation_detail}"
        )
    if lookups.revocation is Revocation.UNKNOWN and not lookups.revocation_soft_fail:
        return Decision(
            403, Cause.CERTIFICATE_REVOCATION_UNKNOWN, lookups.revocation_detail or peer.subject
        )
    if lookups.dn_listing is Listing.NOT_LISTED:
        return Decision(
            403,
            Cause.CERTIFICATE_NOT_LISTED,
            f"the client certificate DN {peer.subject} is not on the whitelist",
        )
    return None


__all__ = [
    "HandshakeRefusals",
    "add_client_lookups",
    "add_server_lookups",
    "client_facts",
    "client_refusal",
    "failed_handshake",
    "handshake_failure",
    "server_facts",
]
