"""Every request is recorded whatever its bytes; slow, idle and greedy connections are bounded."""

from __future__ import annotations

import logging
import socket
import time

import httpx
import pytest

from drimlab.exchange import Exchange
from drimlab.facts.decision import Cause, Decision
from drimlab.simulators.connections import HEADER_TIMEOUT, ConnectionPolicy
from drimlab.simulators.noise import NoiseAggregator


def _raw(port: int, data: bytes, *, timeout: float = 30) -> bytes:
    """Send raw bytes, read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def _good(sim) -> tuple[str, dict[str, str]]:
    exam = next(iter(sim.index.snapshot.exams.values()))
    return f"{sim.base}/studies/{exam.study_instance_uid}", sim.headers(exam.study_instance_uid)


def _findings(recorded) -> dict[str, str]:
    return {f.rule: f.message for f in recorded.report.findings}


def test_non_ascii_bearer_token_is_a_recorded_401(start_simulator) -> None:
    sim = start_simulator()
    url, headers = _good(sim)
    response = httpx.get(url, headers=headers | {"Authorization": b"Bearer \xff\xfe\x80"})
    assert response.status_code == 401
    assert response.json()["cause"] == "token-malformed"
    assert sim.recorder.wait_for(1, timeout=60)
    recorded = sim.recorder.recorded[0]
    assert recorded.report.verdict.value == "FAILED"
    assert "\\xff\\xfe\\x80" in _findings(recorded)["REFUSAL-001"]
    assert not sim.recorder.failures


@pytest.mark.parametrize(
    ("name", "value", "status", "cause"),
    [
        ("KOS-SOPInstanceUID", b"1.2.\xff", 404, "kos-unknown"),
        ("Accept", b'multipart/related; type="application/dicom\xe9"', 400, "accept-unusable"),
        ("User-Agent", b"caf\xc3\xa9 \xff", 200, "served"),  # recorded as sent, not refused
    ],
)
def test_bad_bytes_in_other_headers_are_4xx_never_500(
    start_simulator, name: str, value: bytes, status: int, cause: str
) -> None:
    sim = start_simulator()
    url, headers = _good(sim)
    response = httpx.get(url, headers=headers | {name: value})
    assert response.status_code == status
    assert sim.recorder.wait_for(1, timeout=60)
    recorded = sim.recorder.recorded[0]
    assert not sim.recorder.failures
    if status != 200:
        assert response.json()["cause"] == cause
        assert any(cause in message for message in _findings(recorded).values())


@pytest.mark.parametrize(
    ("raw", "status", "cause"),
    [
        (b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n", 400,
         "request-unparsable"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400,
         "request-unparsable"),
        (b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request-unparsable"),
        (b"GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "outside-service"),
        (b"POST /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
         b"Connection: close\r\n\r\n", 405, "method-not-allowed"),
    ],
)  # fmt: skip
def test_rejections_before_the_service_are_recorded_without_a_traceback(
    start_simulator, caplog: pytest.LogCaptureFixture, raw: bytes, status: int, cause: str
) -> None:
    sim = start_simulator()
    caplog.set_level(logging.DEBUG)
    answer = _raw(sim.server.port, raw)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()) or answer.startswith(
        f"HTTP/1.0 {status} ".encode()
    ), answer[:200]
    assert f'"cause": "{cause}"'.encode() in answer
    assert sim.recorder.wait_for(1, timeout=60)
    recorded = sim.recorder.recorded[0]
    assert recorded.report.verdict.value == "FAILED"
    assert "REFUSAL-005" in _findings(recorded)
    assert cause in _findings(recorded)["REFUSAL-005"]
    assert [r for r in caplog.records if r.exc_info] == []


def test_a_slow_header_client_is_cut_after_the_header_timeout(start_simulator) -> None:
    sim = start_simulator()
    url, headers = _good(sim)
    with socket.create_connection(("127.0.0.1", sim.server.port), timeout=60) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        served_meanwhile = False
        sock.settimeout(0.5)
        while time.monotonic() - started < HEADER_TIMEOUT + 20:
            try:
                sock.sendall(b"X")  # one byte of a header line every half second
            except OSError:
                break
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if not served_meanwhile and time.monotonic() - started > 2:
                    # another consumer is served while the slow one dribbles
                    assert httpx.get(url, headers=headers, timeout=30).status_code == 200
                    served_meanwhile = True
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
        elapsed = time.monotonic() - started
    assert served_meanwhile
    assert HEADER_TIMEOUT - 0.5 <= elapsed <= HEADER_TIMEOUT + 10, elapsed
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    assert sim.recorder.wait_for(2, timeout=60)  # the consumer served meanwhile, and the cut
    cut = [r for r in sim.recorder.recorded if "REFUSAL-007" in _findings(r)]
    assert cut and "header-timeout" in _findings(cut[0])["REFUSAL-007"]


def test_idle_connections_are_closed_and_one_address_is_capped(start_simulator) -> None:
    sim = start_simulator(policy=ConnectionPolicy(idle_timeout=1.0, max_per_peer=3))
    url, headers = _good(sim)
    idle = [socket.create_connection(("127.0.0.1", sim.server.port), timeout=30) for _ in range(3)]
    try:
        time.sleep(0.2)
        answer = _raw(sim.server.port, b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503 ") and b"connection-limit" in answer
        started = time.monotonic()
        for sock in idle:
            assert sock.recv(1) == b""  # closed by the server once idle
        assert time.monotonic() - started < 10
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(url, headers=headers, timeout=30).status_code == 200  # room again
    assert sim.recorder.wait_for(2, timeout=60)
    causes = {r.report.facts.get("decision", {}).get("cause") for r in sim.recorder.recorded}
    found = [_findings(r).get("REFUSAL-007", "") for r in sim.recorder.recorded]
    assert any("connection-limit" in message for message in found), causes


def test_repeated_noise_is_aggregated_per_address() -> None:
    seen: list[Exchange] = []
    now = [0.0]
    noise = NoiseAggregator(seen.append, burst=3, window=60, clock=lambda: now[0])
    decision = Decision(404, Cause.OUTSIDE_SERVICE, "/x is not a resource")
    for i in range(10):
        noise.add(
            ("10.0.0.1", "outside-service"),
            Exchange(decision=decision, timings={"started_at": float(i)}),
        )
    noise.add(("10.0.0.2", "outside-service"), Exchange(decision=decision))
    assert len(seen) == 4  # three from the first address, one from the other
    now[0] = 61.0
    noise.tick()
    assert len(seen) == 5
    last = seen[-1]
    assert last.timings["repeats"] == 7.0
    assert last.decision is not None and "7 more request(s) from 10.0.0.1" in last.decision.detail
    noise.flush()
    assert len(seen) == 5
