"""The RELAY rules judge what the proxy recorded, each on a bad and a good relayed exchange; the
TLS rules judge both connections of a relayed exchange, each finding naming its connection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drimlab.exchange import Exchange
from drimlab.facts.relay import RelayEnd, RelayFacts, Tally
from drimlab.facts.tls import HandshakeFailure, RefusedBy, Role, TlsFacts
from drimlab.validation.engine import validate_exchange
from drimlab.validation.report import Verdict

TARGET = "/dicom-web/studies/1.2.3/series/1.2.3.4"
SAME = Tally(10, "a" * 64, 10, "a" * 64)
GOOD = RelayFacts(upstream="localhost:8443", request=SAME, response=SAME)


def _relayed(relay: RelayFacts, **changes: object) -> Exchange:
    base = Exchange(
        method="GET",
        target=TARGET,
        request_headers=(("Host", "localhost"), ("Accept", "application/dicom")),
        origin="proxy",
        relay=relay,
        timings={"started_at": 1_800_000_000.0},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


BAD: dict[str, RelayFacts] = {
    "RELAY-001": replace(GOOD, ended=RelayEnd.SOURCE_CLOSED, detail="closed after 4 of 10 bytes"),
    "RELAY-002": replace(GOOD, ended=RelayEnd.SOURCE_UNREACHABLE, proxy_status=502),
    "RELAY-003": replace(GOOD, ended=RelayEnd.SOURCE_NOT_HTTP, proxy_status=502),
    "RELAY-004": replace(GOOD, ended=RelayEnd.CONSUMER_CLOSED, detail="closed after 4 bytes"),
    "RELAY-005": replace(GOOD, ended=RelayEnd.CONSUMER_NOT_HTTP, proxy_status=400),
    "RELAY-006": replace(GOOD, response=Tally(10, "a" * 64, 9, "b" * 64)),
    "RELAY-007": replace(GOOD, validation_budget=1024, validation_behind_at=4096),
}


@pytest.mark.parametrize("code", sorted(BAD))
def test_each_relay_rule_fires_on_its_fault_and_is_checked_on_a_good_relay(code: str) -> None:
    bad = validate_exchange(_relayed(BAD[code]), "drim-m")
    assert code in {f.rule for f in bad.findings}, bad.as_dict()["findings"]
    good = validate_exchange(_relayed(GOOD), "drim-m")
    assert not [f for f in good.findings if f.rule.startswith("RELAY")]
    assert code in good.rules_checked


def test_a_cut_exchange_is_not_judged_for_byte_exactness() -> None:
    cut = replace(BAD["RELAY-004"], response=Tally(10, "a" * 64, 4, "c" * 64))
    report = validate_exchange(_relayed(cut), "drim-m")
    assert "RELAY-006" not in report.rules_checked
    assert {f.rule for f in report.findings if f.rule.startswith("RELAY")} == {"RELAY-004"}


def test_an_exchange_without_relay_facts_is_not_judged_by_relay_rules() -> None:
    report = validate_exchange(replace(_relayed(GOOD), relay=None), "drim-m")
    assert not [code for code in report.rules_checked if code.startswith("RELAY")]


def test_both_connections_are_judged_and_named() -> None:
    consumer = TlsFacts(role=Role.SERVER, tls=False)
    refused = TlsFacts(
        role=Role.CLIENT,
        handshake=HandshakeFailure(RefusedBy.PEER, "TLSV1_ALERT_UNKNOWN_CA", "alert unknown ca"),
    )
    exchange = _relayed(
        replace(GOOD, ended=RelayEnd.SOURCE_TLS_FAILED, proxy_status=502),
        tls=consumer,
        upstream_tls=refused,
    )
    report = validate_exchange(exchange, "drim-m")
    where = {f.rule: f.location.path for f in report.findings}
    assert where["TLS-013"] == "consumer connection: transport"
    assert where["TLS-014"] == "source connection: TLS handshake"
    assert report.verdict is Verdict.FAILED
