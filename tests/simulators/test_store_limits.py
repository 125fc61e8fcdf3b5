"""What protects the store from the server simulator's side: an organisation over its quota
is refused with 503 and Retry-After and its refusals are aggregated; a flood of refused
handshakes from one peer is a handful of records, each saying its count."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from drimlab.config import Settings
from drimlab.facts.tls import CertificateFacts
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.simulators.quota_gate import QuotaGate
from drimlab.simulators.refusals import Refusal
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store import Store, accounts, open_store
from drimlab.store.models import ExchangeRecord
from drimlab.store.quotas import set_quota

FLOOD = 200


@pytest.fixture
def bench(default_dataset_copy: Settings) -> Iterator[tuple[Store, BenchEnvironment]]:
    store = open_store(default_dataset_copy)
    env = BenchEnvironment.prepare(store, default_dataset_copy)
    yield store, env
    store.close()


def _rows(store: Store) -> list[Any]:
    with store.session() as session:
        return list(
            session.execute(
                select(
                    ExchangeRecord.status,
                    ExchangeRecord.timings,
                    ExchangeRecord.organisation_id,
                    ExchangeRecord.parts,
                    ExchangeRecord.stored_bytes,
                    ExchangeRecord.note,
                )
            )
        )


def _count(row: Any) -> int:
    """How many requests one record stands for: itself, or the repeats it sums up (the last
    of which it is)."""
    return int(row.timings.get("repeats", 1))


def test_an_organisation_over_quota_gets_503_and_its_refusals_are_aggregated(
    bench: tuple[Store, BenchEnvironment],
) -> None:
    store, env = bench
    consumer = env.pki.certificate(CONSUMER_CERT)
    domain = str(consumer.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    organisation = accounts.create_organisation(store, "Vendor A", (domain,)).id
    set_quota(store, "Vendor A", exchanges=0)
    with source_in_thread(store, env, SourceOptions(port=0, crl_port=None)) as (setup, server):
        exam = next(iter(setup.index.snapshot.exams.values()))
        assert exam.kos is not None
        url = f"https://localhost:{server.port}/dicom-web/studies/{exam.study_instance_uid}"
        with requests.Session() as session:
            session.trust_env = False
            session.verify = str(env.pki.bundle_path)
            session.cert = (
                str(env.pki.chain_path(CONSUMER_CERT)),
                str(env.pki.key_path(CONSUMER_CERT)),
            )
            answers = [
                session.get(
                    url,
                    headers={
                        "Authorization": f"Bearer {env.issuer.issue()}",
                        "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
                    },
                    timeout=30,
                )
                for _ in range(20)
            ]
    assert {a.status_code for a in answers} == {503}
    assert answers[0].headers["Retry-After"].isdigit()
    assert answers[0].json()["cause"] == "quota-exceeded"
    assert "quota" in answers[0].json()["error"] and "\n" not in answers[0].json()["error"]
    rows = _rows(store)
    assert len(rows) <= 6 and sum(_count(r) for r in rows) == 20
    assert all(r.status == 503 and r.organisation_id == organisation for r in rows)
    assert all(r.parts == [] and r.stored_bytes == 0 for r in rows)  # no part was stored
    assert any("more request(s) from organisation 'Vendor A'" in r.note for r in rows)
    # the simulator recorded the fact; the rule judges it: an error naming the cause
    findings = [f for rec in setup.recorder.recorded for f in rec.report.findings]
    assert findings and all(f.rule == "REFUSAL-007" for f in findings)
    assert all("quota-exceeded" in f.message and f.severity.value == "error" for f in findings)


def _refused_handshake(port: int, env: BenchEnvironment) -> None:
    context = ssl.create_default_context(cafile=str(env.pki.bundle_path))
    context.load_cert_chain(str(env.pki.chain_path("rogue")), str(env.pki.key_path("rogue")))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass  # refused, as expected


def test_a_flood_of_refused_handshakes_from_one_peer_is_a_handful_of_records(
    bench: tuple[Store, BenchEnvironment],
) -> None:
    store, env = bench
    with source_in_thread(store, env, SourceOptions(port=0, crl_port=None)) as (setup, server):
        for _ in range(FLOOD):  # bounded: FLOOD handshakes on loopback
            _refused_handshake(server.port, env)
    rows = _rows(store)
    assert 1 <= len(rows) <= 6, [r.note for r in rows]
    assert sum(_count(r) for r in rows) == FLOOD
    assert any(f"{FLOOD - 5} more request(s)" in r.note for r in rows)
    assert all(rec.report.facts["kind"] == "handshake" for rec in setup.recorder.recorded)


def test_the_gate_answers_from_its_cache_and_renews_it_in_the_background(store: Store) -> None:
    now = datetime.now(UTC)
    certificate = CertificateFacts(
        subject="CN=consumer.vendor-a.test,O=Vendor A,C=FR",
        issuer="CN=TEST",
        serial="02",
        sha256="11" * 32,
        not_before=now,
        not_after=now,
        common_name="consumer.vendor-a.test",
    )
    accounts.create_organisation(store, "Vendor A", ("vendor-a.test",))
    set_quota(store, "Vendor A", exchanges=0)
    clock = [0.0]
    gate = QuotaGate(store, ttl=5, clock=lambda: clock[0])

    async def ask() -> Refusal | None:
        return await gate.refusal(certificate)

    try:
        first = asyncio.run(ask())  # first sight: asks the store
        assert first is not None and first.status == 503 and first.cause.value == "quota-exceeded"
        assert dict(first.headers)["Retry-After"].isdigit() and "quota" in first.reason
        assert gate.key_of(certificate) == "organisation 'Vendor A'"
        set_quota(store, "Vendor A", exchanges=None)  # raised: no quota any more
        assert asyncio.run(ask()) is not None  # still the cached answer
        clock[0] = 6.0
        assert asyncio.run(ask()) is not None  # stale: answered at once, renewed behind
        gate.close()  # waits for the renewal
        assert asyncio.run(ask()) is None
        assert asyncio.run(gate.refusal(None)) is None  # no client certificate: no quota
    finally:
        gate.close()
