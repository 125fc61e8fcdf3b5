"""LiveTrust: the whitelist and CRL of a running server, reloaded, re-signed, stale loudly."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from drimlab.facts.tls import Role, TlsFacts
from drimlab.trust.enforce import add_client_lookups, client_refusal
from drimlab.trust.live import LiveTrust
from drimlab.trust.peer import certificate_facts
from drimlab.trust.pki import Pki
from drimlab.trust.whitelist import load_whitelist
from drimlab.validation.engine import validate_connection
from drimlab.validation.findings import Severity

EIGHT_DAYS = timedelta(days=8)


def test_stale_policy_in_the_facts(pki, signed_bench_list) -> None:
    """The policy is a fact of the lookup, and TLS-008 says what the bench did."""
    later = datetime.now(UTC) + EIGHT_DAYS
    trust = LiveTrust(
        whitelist_path=signed_bench_list,
        crl_path=pki.crl_path,
        crl_issuers=pki.anchors(),
        clock=lambda: later,
    )
    der = pki.certificate("consumer").public_bytes(serialization.Encoding.DER)
    facts = TlsFacts(role=Role.SERVER, peer_chain=(certificate_facts(der),), chain_verified=True)
    whitelist = load_whitelist(signed_bench_list)
    for accept in (False, True):
        judged = add_client_lookups(
            facts, der, whitelist, crl=trust.state.revocation, at=later, accept_stale_crl=accept
        )
        assert judged.lookups.revocation_soft_fail is accept
        assert (client_refusal(judged) is None) is accept
        findings = [f for f in validate_connection(judged).findings if f.rule == "TLS-008"]
        assert findings[0].severity is (Severity.WARNING if accept else Severity.ERROR)


def test_changed_files_are_reloaded_and_an_unreadable_one_keeps_the_last(
    tmp_path: Path, signed_bench_list: Path
) -> None:
    own = Pki.init(tmp_path / "pki")
    listed = tmp_path / "whitelist.xml"
    listed.write_bytes(signed_bench_list.read_bytes())
    said: list[str] = []
    trust = LiveTrust(
        whitelist_path=listed,
        crl_path=own.crl_path,
        crl_issuers=own.anchors(),
        notify=said.append,
    )
    assert not trust.due()
    own.revoke("consumer")
    assert trust.due()
    state = trust.refresh()
    assert len(state.revocation.crl) == 2 and not trust.due()
    listed.write_bytes(b"<not a list")
    os.utime(listed, ns=(1, 1))
    assert trust.due()
    assert trust.refresh().whitelist is state.whitelist  # kept
    assert any("keeping the whitelist loaded before" in line for line in said)
