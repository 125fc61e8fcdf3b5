"""How an exchange of a run travelled, as the monitor shows it: mutual TLS, TLS, plain HTTP.

A run made with `insecure_http=true` (a debugging run) has no TLS, no peer identity and no
whitelist check: DRIM-M evidence must travel over mutual TLS, so the monitor shows the mode of
every report and never says VERIFIED for a bundle holding a plain-HTTP exchange.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drimlab.exchange import Exchange
from drimlab.scenarios.schema import Text


class Transport(StrEnum):
    MUTUAL_TLS = "mutual-tls"
    TLS = "tls"  # a TLS connection where no peer certificate was presented
    PLAIN_HTTP = "plain-http"
    UNKNOWN = "unknown"  # no exchange behind the report (a probe battery), or no TLS facts


LABELS: dict[Transport, Text] = {
    Transport.MUTUAL_TLS: Text(fr="TLS mutuel", en="mutual TLS"),
    Transport.TLS: Text(fr="TLS sans certificat du pair", en="TLS without a peer certificate"),
    Transport.PLAIN_HTTP: Text(fr="HTTP en clair (mise au point)", en="plain HTTP (debugging)"),
    Transport.UNKNOWN: Text(fr="non précisé", en="not recorded"),
}


def transport_of(exchange: Exchange | None) -> Transport:
    """The mode an exchange travelled in, from its TLS facts."""
    if exchange is None or exchange.tls is None:
        return Transport.UNKNOWN
    if not exchange.tls.tls:
        return Transport.PLAIN_HTTP
    return Transport.MUTUAL_TLS if exchange.tls.peer is not None else Transport.TLS


@dataclass(frozen=True)
class ReportLine:
    """One report of a VALIDATION step as the monitor page lists it."""

    step: str
    report: str
    subject: str
    verdict: str
    transport: Transport
    tls_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "report": self.report,
            "subject": self.subject,
            "verdict": self.verdict,
            "transport": self.transport.value,
            "tls_version": self.tls_version,
        }


def plain_http_reason(step: str, report: str) -> str:
    """Why a plain-HTTP exchange keeps a bundle from VERIFIED (a missing proof, not a forgery)."""
    return (
        f"step {step}: report {report[:8]} is about an exchange in plain HTTP (insecure_http, a "
        "debugging run): without TLS neither the peer's identity nor the whitelist is proven"
    )
