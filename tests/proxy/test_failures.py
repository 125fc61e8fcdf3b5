"""When a side fails mid-exchange, the proxy records how and why, and keeps serving.

The source's plug is pulled in the middle of a response (a TLS source that sends half a body
then resets its TCP connection), the consumer walks away in the middle of a response, and the
source refuses the proxy's client certificate: each is an exchange of its own, with its cause,
and the next exchange through the same proxy goes through.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from drimlab.documents.kos import read_kos
from drimlab.facts.relay import RelayEnd
from drimlab.facts.tls import RefusedBy
from drimlab.proxy.config import Identity
from drimlab.proxy.recording import Recorded
from drimlab.simulators.consumer import retrieve
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT
from drimlab.simulators.retrieval import RetrieveOptions, plan_requests, resolve_target
from drimlab.tokens import TokenIssuer
from drimlab.trust.tls import client_context, server_context
from drimlab.validation.report import Verdict

from .conftest import ProxyBench

HALF = 40_000


def _rules(item: Recorded) -> set[str]:
    assert item.report is not None
    return {f.rule for f in item.report.findings}


def _consumer(bench: ProxyBench) -> ssl.SSLSocket:
    """A TLS connection to the proxy with the bench's consumer certificate."""
    pki = bench.env.pki
    context = client_context(
        pki.chain_path(CONSUMER_CERT), pki.key_path(CONSUMER_CERT), pki.bundle_path
    )
    raw = socket.create_connection(("localhost", bench.proxy_port), timeout=60)
    return context.wrap_socket(raw, server_hostname="localhost")


def _get(target: str) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: localhost", "Accept: */*"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_all(conn: ssl.SSLSocket) -> bytes:
    data = b""
    while True:
        try:
            piece = conn.recv(65536)
        except (OSError, ssl.SSLError):
            return data
        if not piece:
            return data
        data += piece


@contextmanager
def _plug_pulled_source(bench: ProxyBench) -> Iterator[list[int]]:
    """A TLS source that cuts its first connection in the middle of a body (TCP reset), then
    answers the next ones whole."""
    pki = bench.env.pki
    context = server_context(
        pki.chain_path(SOURCE_CERT), pki.key_path(SOURCE_CERT), pki.bundle_path
    )
    listener = socket.create_server(("127.0.0.1", bench.source_port))
    served: list[int] = []
    body = b"x" * (2 * HALF)
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(30)
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    while b"\r\n\r\n" not in conn.recv(65536):
                        pass
                    if not served:
                        conn.sendall(head + body[:HALF])
                        time.sleep(0.5)  # let the proxy read it: a reset drops unread data
                        # the plug: a reset, no TLS close_notify, no end of body
                        linger = struct.pack("ii", 1, 0)
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                        served.append(HALF)
                        continue
                    conn.sendall(head + body)
                    served.append(len(body))
            except (OSError, ssl.SSLError):
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        thread.join(10)
        listener.close()


def test_source_plug_pulled_mid_response_is_recorded_and_the_proxy_serves_on(
    bench: ProxyBench,
) -> None:
    with _plug_pulled_source(bench), bench.proxy() as running:
        with _consumer(bench) as conn:
            conn.sendall(_get("/dicom-web/studies/1.2.3"))
            cut = _read_all(conn)
        with _consumer(bench) as conn:
            conn.sendall(
                _get("/dicom-web/studies/1.2.3").replace(
                    b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"
                )
            )
            whole = _read_all(conn)
        assert running.recorder.wait_for(2, timeout=60)
        first, second = running.recorder.recorded[:2]
    # the consumer got exactly what the source sent before the plug, no more
    assert cut.endswith(b"x" * 100) and cut.count(b"x") == HALF
    assert first.exchange.relay is not None
    assert first.exchange.relay.ended is RelayEnd.SOURCE_CLOSED
    assert "RELAY-001" in _rules(first)
    assert first.exchange.transport_error and "source" in first.exchange.transport_error
    assert first.exchange.relay.response.identical
    assert whole.count(b"x") == 2 * HALF
    assert second.exchange.relay is not None
    assert second.exchange.relay.ended is RelayEnd.COMPLETE


def test_consumer_walking_away_mid_response_is_recorded_and_the_proxy_serves_on(
    bench: ProxyBench,
) -> None:
    kos = read_kos(bench.kos.path)
    series = max(kos.series, key=lambda s: len(s.instances))
    target = f"/dicom-web/studies/{kos.study_instance_uid}/series/{series.series_instance_uid}"
    token = TokenIssuer.open(bench.settings).issue()
    options = RetrieveOptions(kos_path=bench.kos.path, series=(series.series_instance_uid,))
    (request,) = plan_requests(resolve_target(options), token=token)
    lines = [f"GET {target} HTTP/1.1", *(f"{k}: {v}" for k, v in request.headers)]
    with bench.source("slow"), bench.proxy() as running:
        with _consumer(bench) as conn:
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            seen = conn.recv(65536)
            assert seen.startswith(b"HTTP/1.1 200")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert running.recorder.wait_for(1, timeout=60)
        gone = running.recorder.recorded[0]
    assert gone.exchange.relay is not None
    assert gone.exchange.relay.ended is RelayEnd.CONSUMER_CLOSED
    assert "RELAY-004" in _rules(gone)
    assert gone.exchange.transport_error and "consumer" in gone.exchange.transport_error
    # the same proxy, a real retrieval afterwards: it goes through and passes
    with bench.source(), bench.proxy() as running:
        smallest = min(kos.series, key=lambda s: len(s.instances)).series_instance_uid
        result = retrieve(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path, series=(smallest,)),
        )
        assert result.verdict is Verdict.PASSED
        assert running.recorder.wait_for(1, timeout=60)


def test_source_refusing_the_proxys_certificate_is_recorded_with_the_handshake(
    bench: ProxyBench,
) -> None:
    pki = bench.env.pki
    rogue = Identity(pki.chain_path("rogue"), pki.key_path("rogue"), pki.bundle_path)
    with bench.source(), bench.proxy(client=rogue) as running:
        for _ in range(2):  # refused twice: the proxy goes on answering
            with _consumer(bench) as conn:
                conn.sendall(_get("/dicom-web/studies/1.2.3"))
                answer = _read_all(conn)
            assert answer.startswith(b"HTTP/1.1 502 Bad Gateway")
            assert b"TLS" in answer
        assert running.recorder.wait_for(2, timeout=60)
        refused = running.recorder.recorded[:2]
    for item in refused:
        relay = item.exchange.relay
        assert relay is not None and relay.ended is RelayEnd.SOURCE_TLS_FAILED
        assert relay.proxy_status == 502
        upstream = item.exchange.upstream_tls
        assert upstream is not None and upstream.handshake is not None
        assert upstream.handshake.refused_by is RefusedBy.PEER  # the source said no
        assert upstream.handshake.reason == "TLSV1_ALERT_UNKNOWN_CA"
        assert "TLS-014" in _rules(item)  # the source refused the client certificate
        assert item.exchange.transport_error
        assert item.report is not None and item.report.verdict is Verdict.FAILED


def test_an_unreachable_source_and_a_consumer_speaking_no_http_are_recorded(
    bench: ProxyBench,
) -> None:
    with bench.proxy() as running:  # nothing listens on the source port
        with _consumer(bench) as conn:
            conn.sendall(_get("/dicom-web/studies/1.2.3"))
            unreachable = _read_all(conn)
        with _consumer(bench) as conn:
            conn.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
            garbage = _read_all(conn)
        assert running.recorder.wait_for(2, timeout=60)
        first, second = running.recorder.recorded[:2]
    assert unreachable.startswith(b"HTTP/1.1 502 Bad Gateway")
    assert first.exchange.relay is not None
    assert first.exchange.relay.ended is RelayEnd.SOURCE_UNREACHABLE
    assert "RELAY-002" in _rules(first)
    assert garbage.startswith(b"HTTP/1.1 400 Bad Request")
    assert second.exchange.relay is not None
    assert second.exchange.relay.ended is RelayEnd.CONSUMER_NOT_HTTP
    assert "RELAY-005" in _rules(second)


def test_a_source_certificate_the_proxy_does_not_trust_is_refused_and_recorded(
    bench: ProxyBench,
) -> None:
    pki = bench.env.pki
    wrong_anchor = Identity(
        pki.chain_path(CONSUMER_CERT), pki.key_path(CONSUMER_CERT), pki.chain_path("rogue-root")
    )
    with bench.source(), bench.proxy(client=wrong_anchor) as running:
        with _consumer(bench) as conn:
            conn.sendall(_get("/dicom-web/studies/1.2.3"))
            answer = _read_all(conn)
        assert running.recorder.wait_for(1, timeout=60)
        item = running.recorder.recorded[0]
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway")
    upstream = item.exchange.upstream_tls
    assert upstream is not None and upstream.handshake is not None
    assert upstream.handshake.refused_by is RefusedBy.BENCH  # the proxy said no
    assert item.exchange.relay is not None
    assert item.exchange.relay.ended is RelayEnd.SOURCE_TLS_FAILED
    assert item.report is not None and item.report.verdict is Verdict.FAILED


FLOOD = 60


def test_a_flood_of_refused_handshakes_from_one_consumer_is_a_handful_of_records(
    bench: ProxyBench,
) -> None:
    pki = bench.env.pki
    rogue = ssl.create_default_context(cafile=str(pki.bundle_path))
    rogue.load_cert_chain(str(pki.chain_path("rogue")), str(pki.key_path("rogue")))
    with bench.proxy() as running:
        for _ in range(FLOOD):  # bounded: FLOOD handshakes on loopback
            with socket.create_connection(("127.0.0.1", bench.proxy_port), timeout=10) as raw:
                try:
                    with rogue.wrap_socket(raw, server_hostname="localhost") as tls:
                        tls.sendall(_get("/dicom-web/studies/1.2.3"))
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass  # refused, as expected
    refused = [r for r in running.recorder.recorded if "handshake refused" in r.exchange.subject]
    assert 1 <= len(refused) <= 6, [r.exchange.subject for r in refused]
    assert sum(int(r.exchange.timings.get("repeats", 1)) for r in refused) == FLOOD
    assert any(f"{FLOOD - 5} more request(s)" in r.exchange.subject for r in refused)
    for item in refused:
        handshake = item.exchange.tls.handshake if item.exchange.tls else None
        assert handshake is not None and handshake.refused_by is RefusedBy.BENCH
        assert item.report is not None and item.report.verdict is Verdict.FAILED
