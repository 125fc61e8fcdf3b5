"""Facts of one TLS connection, as the bench saw it.

`role` is the bench's side: `server` when a consumer under test connected to the server
simulator, `client` when the client simulator connected to a source under test. The peer's
chain is leaf first. A refused handshake is a `HandshakeFailure` naming who refused (the bench,
or the peer through an alert it sent) with OpenSSL's reason and verify code. The bench's own
lookups after the handshake (our CRL, the whitelist) are `TrustLookups`: facts of what the
lookup found, not verdicts; the TLS and WL rules judge them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """The bench's side of the connection."""

    SERVER = "server"
    CLIENT = "client"


class RefusedBy(StrEnum):
    """Who ended a failed handshake: the bench itself, or the peer (with an alert)."""

    BENCH = "bench"
    PEER = "peer"


class Revocation(StrEnum):
    """What the bench's CRL lookup of the peer certificate found."""

    UNCHECKED = "unchecked"
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class Listing(StrEnum):
    """What the bench's whitelist lookup found."""

    UNCHECKED = "unchecked"
    LISTED = "listed"
    NOT_LISTED = "not-listed"


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class CertificateFacts:
    """One certificate of a presented chain: identity, issuer, serial, fingerprint, validity."""

    subject: str
    issuer: str
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime
    common_name: str | None = None
    organisational_unit: str | None = None
    organisation: str | None = None
    # None: the certificate has no extendedKeyUsage (any purpose, RFC 5280 §4.2.1.12)
    extended_key_usages: tuple[str, ...] | None = None
    dns_names: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "common_name": self.common_name,
            "organisational_unit": self.organisational_unit,
            "organisation": self.organisation,
            "extended_key_usages": (
                None if self.extended_key_usages is None else list(self.extended_key_usages)
            ),
            "dns_names": list(self.dns_names),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertificateFacts:
        usages = data.get("extended_key_usages")
        return cls(
            subject=str(data["subject"]),
            issuer=str(data["issuer"]),
            serial=str(data["serial"]),
            sha256=str(data["sha256"]),
            not_before=_time(data["not_before"]),
            not_after=_time(data["not_after"]),
            common_name=data.get("common_name"),
            organisational_unit=data.get("organisational_unit"),
            organisation=data.get("organisation"),
            extended_key_usages=None if usages is None else tuple(str(u) for u in usages),
            dns_names=tuple(str(n) for n in data.get("dns_names", ())),
        )


@dataclass(frozen=True)
class HandshakeFailure:
    """A handshake that did not complete: who refused, OpenSSL's reason and verify result."""

    refused_by: RefusedBy
    reason: str
    message: str
    verify_code: int | None = None
    verify_message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "refused_by": self.refused_by.value,
            "reason": self.reason,
            "message": self.message,
            "verify_code": self.verify_code,
            "verify_message": self.verify_message,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandshakeFailure:
        code = data.get("verify_code")
        return cls(
            refused_by=RefusedBy(data["refused_by"]),
            reason=str(data.get("reason", "")),
            message=str(data.get("message", "")),
            verify_code=None if code is None else int(code),
            verify_message=data.get("verify_message"),
        )


@dataclass(frozen=True)
class TrustLookups:
    """The bench's lookups after the handshake: the CRL, and the whitelist (DN, host)."""

    revocation: Revocation = Revocation.UNCHECKED
    revocation_detail: str = ""
    # unknown only because the CRL is past its nextUpdate, and the bench's policy for a stale
    # CRL is to warn: it admitted the peer anyway
    revocation_soft_fail: bool = False
    dn_listing: Listing = Listing.UNCHECKED
    listed_domain: str | None = None
    host: str | None = None
    host_listing: Listing = Listing.UNCHECKED
    dns_listed_for_host: tuple[str, ...] = ()
    dn_matches_host: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revocation": self.revocation.value,
            "revocation_detail": self.revocation_detail,
            "revocation_soft_fail": self.revocation_soft_fail,
            "dn_listing": self.dn_listing.value,
            "listed_domain": self.listed_domain,
            "host": self.host,
            "host_listing": self.host_listing.value,
            "dns_listed_for_host": list(self.dns_listed_for_host),
            "dn_matches_host": self.dn_matches_host,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrustLookups:
        return cls(
            revocation=Revocation(data.get("revocation", "unchecked")),
            revocation_detail=str(data.get("revocation_detail", "")),
            revocation_soft_fail=bool(data.get("revocation_soft_fail", False)),
            dn_listing=Listing(data.get("dn_listing", "unchecked")),
            listed_domain=data.get("listed_domain"),
            host=data.get("host"),
            host_listing=Listing(data.get("host_listing", "unchecked")),
            dns_listed_for_host=tuple(str(d) for d in data.get("dns_listed_for_host", ())),
            dn_matches_host=data.get("dn_matches_host"),
        )


@dataclass(frozen=True)
class TlsFacts:
    """One connection: plain or TLS, the parameters, the peer's chain, a failure, the lookups.

    `trust_hint` names what the peer should trust to accept the bench (the CA bundle's path
    or URL), so a refusal of the bench's certificate can say what to change.
    """

    role: Role
    tls: bool = True
    peer_address: str | None = None
    version: str | None = None
    cipher: str | None = None
    peer_chain: tuple[CertificateFacts, ...] = ()
    chain_verified: bool = False
    handshake: HandshakeFailure | None = None
    lookups: TrustLookups = field(default_factory=TrustLookups)
    trust_hint: str | None = None

    @property
    def peer(self) -> CertificateFacts | None:
        """The peer's own (leaf) certificate, when it presented one."""
        return self.peer_chain[0] if self.peer_chain else None

    @property
    def refused(self) -> bool:
        return self.handshake is not None

    def identity(self) -> dict[str, Any]:
        """Who the peer was, as a report shows it: its address (`host:port`), the chain it
        presented (leaf first; also for a handshake the bench refused) and who refused."""
        return {
            "address": self.peer_address,
            "tls": self.tls,
            "refused_by": None if self.handshake is None else self.handshake.refused_by.value,
            "presented_chain": [
                {"subject": c.subject, "issuer": c.issuer, "serial": c.serial, "sha256": c.sha256}
                for c in self.peer_chain
            ],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "tls": self.tls,
            "peer_address": self.peer_address,
            "version": self.version,
            "cipher": self.cipher,
            "peer_chain": [c.as_dict() for c in self.peer_chain],
            "chain_verified": self.chain_verified,
            "handshake": None if self.handshake is None else self.handshake.as_dict(),
            "lookups": self.lookups.as_dict(),
            "trust_hint": self.trust_hint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TlsFacts:
        handshake = data.get("handshake")
        return cls(
            role=Role(data["role"]),
            tls=bool(data.get("tls", True)),
            peer_address=data.get("peer_address"),
            version=data.get("version"),
            cipher=data.get("cipher"),
            peer_chain=tuple(CertificateFacts.from_dict(c) for c in data.get("peer_chain", ())),
            chain_verified=bool(data.get("chain_verified", False)),
            handshake=None if handshake is None else HandshakeFailure.from_dict(handshake),
            lookups=TrustLookups.from_dict(data.get("lookups") or {}),
            trust_hint=data.get("trust_hint"),
        )


def plain(role: Role, peer_address: str | None = None) -> TlsFacts:
    """The facts of a plain-HTTP connection (no TLS, no peer identity)."""
    return TlsFacts(role=role, tls=False, peer_address=peer_address)
