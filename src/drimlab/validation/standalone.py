"""Reports of facts that stand alone, outside any exchange: a whitelist, one TLS connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drimlab.facts.tls import TlsFacts
from drimlab.facts.whitelist import WhitelistFacts
from drimlab.validation.assess import Selection, assess
from drimlab.validation.profiles import Profile
from drimlab.validation.report import Report
from drimlab.validation.rules import Kind
from drimlab.validation.subjects import TlsSubject

Chosen = str | Profile | Selection


def validate_whitelist(facts: WhitelistFacts, profile: Chosen = "drim-m") -> Report:
    """Judge a whitelist's facts with the WL rules: one Report, like any other validation."""
    summary: dict[str, Any] = {
        "whitelist": {
            "source": facts.source,
            "validation_time": facts.at.isoformat(),
            "domains": facts.domains,
            "signer": None if facts.signer is None else facts.signer.as_dict(),
            "signing_time": facts.signing_time,
        },
        "whitelist_facts": facts.as_dict(),
    }
    return assess(
        facts.source,
        [(Kind.WHITELIST, [facts])],
        Selection.of(profile),
        kind="whitelist",
        facts=summary,
    )


def validate_connection(
    facts: TlsFacts, profile: Chosen = "drim-m", *, at: datetime | None = None
) -> Report:
    """Judge one connection's TLS facts alone (a handshake refusal, or a peer's certificate)."""
    when = at or datetime.now(UTC)
    return assess(
        f"TLS connection ({facts.role.value} side)",
        [(Kind.TLS, [TlsSubject(facts, when)])],
        Selection.of(profile),
        kind="connection",
        facts={"tls": facts.as_dict()},
    )
