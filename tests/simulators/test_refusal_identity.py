"""Identity on every refusal: whatever the bench refuses, over real mutual TLS, the stored
exchange and its report say who it was (address and port, the chain presented) and who refused.

One consumer connection per refusal kind: handshakes the bench refuses (a rogue certificate, no
certificate), a handshake the consumer refuses (it does not trust the bench), and the refusals
after the handshake (token, KOS, certificate, request, frame list, outside the service, an
unparsable head, a head too slow, too many connections).
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.exchange import Exchange
from drimlab.simulators.connections import ConnectionPolicy
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.simulators.runner import RunningServer
from drimlab.simulators.serve import SourceOptions, SourceSetup, source_in_thread
from drimlab.store import Store, open_store
from drimlab.store.records import load_exchange, load_report
from drimlab.trust.tls import client_context
from drimlab.validation.report import Report, Verdict

ADDRESS = re.compile(r"^127\.0\.0\.1:\d{1,5}$")


@dataclass
class Bench:
    env: BenchEnvironment
    setup: SourceSetup
    server: RunningServer
    store: Store

    def context(self, name: str = CONSUMER_CERT, *, trust: Path | None = None) -> ssl.SSLContext:
        pki = self.env.pki
        return client_context(pki.chain_path(name), pki.key_path(name), trust or pki.bundle_path)

    def exam(self) -> tuple[str, str, str]:
        exam = next(iter(self.setup.index.snapshot.exams.values()))
        assert exam.kos is not None
        series = self.setup.index.series_of(exam.study_instance_uid)[0]
        return exam.study_instance_uid, series.series_instance_uid, exam.kos.sop_instance_uid


@pytest.fixture(scope="module")
def bench(default_dataset: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    home = tmp_path_factory.mktemp("identity") / "home"
    shutil.copytree(default_dataset.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    options = SourceOptions(
        port=0,
        crl_port=None,
        connections=ConnectionPolicy(header_timeout=1.0, max_per_peer=4),
    )
    with source_in_thread(store, env, options) as (setup, server):
        yield Bench(env, setup, server, store)
    store.close()


def _send(bench: Bench, context: ssl.SSLContext, raw: bytes, *, dribble: bool = False) -> bytes:
    """Send raw bytes over one TLS connection and read the answer (b"" if the handshake fails)."""
    with socket.create_connection(("127.0.0.1", bench.server.port), timeout=30) as sock:
        try:
            with context.wrap_socket(sock, server_hostname="localhost") as tls:
                if dribble:  # a head that never ends in time
                    tls.sendall(raw[:20])
                    time.sleep(2.0)
                else:
                    tls.sendall(raw)
                answer = b""
                while chunk := tls.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer:
                        break
                return answer
        except (ssl.SSLError, OSError):
            return b""


def _get(target: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _next(bench: Bench, before: int) -> tuple[Exchange, Report]:
    recorder = bench.setup.recorder
    assert recorder.wait_for(before + 1, timeout=60)
    assert not recorder.failures, recorder.failures
    recorded = recorder.recorded[before]
    return (
        load_exchange(bench.store, recorded.exchange_id),
        load_report(bench.store, recorded.report_id),
    )


def _token(bench: Bench) -> dict[str, str]:
    _, _, kos = bench.exam()
    return {"Authorization": f"Bearer {bench.env.issuer.issue()}", "KOS-SOPInstanceUID": kos}


Case = Callable[[Bench], tuple[ssl.SSLContext, bytes, bool]]


def _after_handshake(name: str, target: Callable[[Bench], str], headers: bool = True) -> Case:
    def case(bench: Bench) -> tuple[ssl.SSLContext, bytes, bool]:
        sent = _token(bench) if headers else {}
        return bench.context(name), _get(target(bench), sent), False

    return case


def _series(bench: Bench) -> str:
    study, series, _ = bench.exam()
    return f"/dicom-web/studies/{study}/series/{series}"


AFTER_HANDSHAKE: dict[str, tuple[Case, str]] = {
    "token-missing": (_after_handshake(CONSUMER_CERT, _series, headers=False), "token-missing"),
    "certificate-not-listed": (_after_handshake("unlisted", _series), "certificate-not-listed"),
    "certificate-revoked": (_after_handshake("revoked", _series), "certificate-revoked"),
    "study-unknown": (
        _after_handshake(CONSUMER_CERT, lambda b: "/dicom-web/studies/2.25.1"),
        "kos-other-study",
    ),
    "frame-list-invalid": (
        _after_handshake(CONSUMER_CERT, lambda b: f"{_series(b)}/instances/2.25.9/frames/1,1"),
        "",
    ),
    "outside-service": (_after_handshake(CONSUMER_CERT, lambda b: "/elsewhere"), "outside"),
    "request-unparsable": (
        lambda b: (b.context(), b"GET /dicom-web/studies HTTP/1.1\r\nBad Header\r\n\r\n", False),
        "request-unparsable",
    ),
    "header-timeout": (
        lambda b: (b.context(), _get(_series(b), {}), True),
        "header-timeout",
    ),
}


@pytest.mark.parametrize("kind", sorted(AFTER_HANDSHAKE))
def test_a_refusal_after_the_handshake_names_the_client(bench: Bench, kind: str) -> None:
    case, cause = AFTER_HANDSHAKE[kind]
    context, raw, dribble = case(bench)
    before = len(bench.setup.recorder.recorded)
    answer = _send(bench, context, raw, dribble=dribble)
    assert re.match(rb"HTTP/1\.[01] [45]\d\d ", answer), answer[:80]
    exchange, report = _next(bench, before)
    assert exchange.decision is not None and exchange.decision.refused
    if cause:
        assert cause in exchange.decision.cause.value or cause in exchange.decision.detail
    tls = exchange.tls
    assert tls is not None and tls.tls and tls.handshake is None
    assert tls.peer_address is not None and ADDRESS.match(tls.peer_address)
    assert tls.peer is not None and tls.peer.subject  # the chain the client presented
    assert report.verdict is Verdict.FAILED
    peer = report.facts["peer"]
    assert peer["address"] == tls.peer_address
    assert peer["presented_chain"][0]["serial"] == tls.peer.serial
    assert peer["refused_by"] is None  # the handshake went through: the bench refused the request


def test_too_many_connections_is_a_refusal_naming_the_client(bench: Bench) -> None:
    context = bench.context()
    held: list[ssl.SSLSocket] = []
    try:
        for _ in range(4):  # the cap of this bench: four connections at once from one address
            sock = socket.create_connection(("127.0.0.1", bench.server.port), timeout=30)
            held.append(context.wrap_socket(sock, server_hostname="localhost"))
        time.sleep(0.3)
        before = len(bench.setup.recorder.recorded)
        answer = _send(bench, context, _get(_series(bench), _token(bench)))
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
        exchange, report = _next(bench, before)
    finally:
        for sock in held:
            sock.close()
    assert exchange.decision is not None and exchange.decision.cause.value == "connection-limit"
    tls = exchange.tls
    assert tls is not None and tls.peer_address is not None and ADDRESS.match(tls.peer_address)
    assert tls.peer is not None and tls.peer.subject == bench.env.pki.entry(CONSUMER_CERT).subject
    assert report.facts["peer"]["address"] == tls.peer_address


@pytest.mark.parametrize(
    ("name", "refused_by", "chain"),
    [("rogue", "bench", True), (None, "bench", False), ("look-alike", "peer", True)],
    ids=["rogue-certificate", "no-certificate", "consumer-refuses-the-bench"],
)
def test_a_refused_handshake_names_the_client_and_who_refused(
    bench: Bench, name: str | None, refused_by: str, chain: bool
) -> None:
    pki = bench.env.pki
    if name == "rogue":
        context = bench.context("rogue")
        presented = pki.entry("rogue")
    elif name == "look-alike":  # the consumer trusts another CA: it refuses the bench
        context = bench.context(trust=pki.cert_path("rogue-root"))
        presented = None
    else:
        context = ssl.create_default_context(cafile=str(pki.bundle_path))
        presented = None
    before = len(bench.setup.recorder.recorded)
    _send(bench, context, _get("/dicom-web/studies", {}))
    exchange, report = _next(bench, before)
    tls = exchange.tls
    assert tls is not None and tls.handshake is not None
    assert tls.handshake.refused_by.value == refused_by
    assert tls.peer_address is not None and ADDRESS.match(tls.peer_address)
    assert report.verdict is Verdict.FAILED
    peer = report.facts["peer"]
    assert peer["address"] == tls.peer_address and peer["refused_by"] == refused_by
    if presented is not None:  # the chain the bench refused is kept, leaf first
        assert tls.peer is not None and tls.peer.subject == presented.subject
        assert peer["presented_chain"][0]["subject"] == presented.subject
    if not chain:
        assert peer["presented_chain"] == []
