"""Each fault mode of the server simulator is caught by the validator rule it documents."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from drimlab.documents.kos import read_kos
from drimlab.errors import InputError
from drimlab.exchange import Exchange
from drimlab.simulators.faults import FAULT_DOCS, Fault, FaultRule
from drimlab.validation.engine import ResponseValidator
from drimlab.validation.findings import Severity
from drimlab.validation.report import Report

from .test_source import DRIM_ACCEPT

RULE_FAULTS = [f for f in Fault if FAULT_DOCS[f].detected_by[0][0].isupper()]


def raw_get(host: str, port: int, target: str, headers: dict[str, str]) -> bytes:
    """A raw HTTP/1.0-style read: everything the server sends until it closes or aborts."""
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    data = b""
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def validate_raw(raw: bytes, target: str, headers: dict[str, str], kos) -> Report:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response_headers = [tuple(line.split(": ", 1)) for line in header_lines]
    request = Exchange(method="GET", target=target, request_headers=tuple(headers.items()))
    validator = ResponseValidator(request, "drim-m", kos=kos)
    validator.feed_headers(int(status_line.split()[1]), response_headers, encoded=True)
    validator.feed(body)
    validator.feed(b"")
    return validator.close()


def _series_request(sim):
    exam = sim.index.snapshot.exams[
        next(k for k, e in sim.index.snapshot.exams.items() if e.name == "ct-thorax-abdo")
    ]
    series = next(s for s in sim.index.series_of(exam.study_instance_uid) if len(s.instances) > 2)
    target = f"/dicom-web/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
    headers = sim.headers(exam.study_instance_uid)
    return target, headers, read_kos(exam.kos.path)


@pytest.mark.parametrize("fault", RULE_FAULTS, ids=lambda f: f.value)
def test_fault_is_detected_by_its_documented_rule(start_simulator, fault: Fault) -> None:
    sim = start_simulator(fault.value)
    target, headers, kos = _series_request(sim)
    accept = (
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
        if fault is Fault.WRONG_TRANSFER_SYNTAX
        else DRIM_ACCEPT
    )
    headers = headers | {"Accept": accept}
    report = validate_raw(
        raw_get(sim.server.host, sim.server.port, target, headers), target, headers, kos
    )
    fired = {f.rule for f in report.findings if f.severity is not Severity.INFO}
    expected = set(FAULT_DOCS[fault].detected_by)
    assert fired & expected, f"{fault}: expected one of {expected}, got {sorted(fired)}"


def test_without_fault_the_same_check_finds_no_error(start_simulator) -> None:
    sim = start_simulator()
    target, headers, kos = _series_request(sim)
    headers = headers | {"Accept": DRIM_ACCEPT}
    report = validate_raw(
        raw_get(sim.server.host, sim.server.port, target, headers), target, headers, kos
    )
    assert [f for f in report.findings if f.severity is Severity.ERROR] == []
    assert report.verdict.value == "PASSED"


def test_busy_fault_answers_503_with_retry_after(start_simulator) -> None:
    sim = start_simulator("busy")
    target, headers, _ = _series_request(sim)
    response = httpx.get(sim.server.origin + target, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_slow_fault_throttles_the_body(start_simulator) -> None:
    sim = start_simulator("slow")
    target, headers, _ = _series_request(sim)
    started = time.monotonic()
    response = httpx.get(sim.server.origin + target, headers=headers, timeout=300)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    # a lower bound only: throttled at 64 KiB/s, the body cannot arrive faster than that
    assert elapsed >= 0.5 * len(response.content) / (64 * 1024)


def test_fault_scoped_to_one_series_leaves_the_others_intact(start_simulator) -> None:
    probe = start_simulator()
    target, headers, kos = _series_request(probe)
    series_uid = target.rsplit("/", 1)[1]
    sim = start_simulator(f"missing-instance:{series_uid}")
    exam_uid = target.split("/studies/")[1].split("/")[0]
    other = next(s for s in sim.index.series_of(exam_uid) if s.series_instance_uid != series_uid)
    faulty = httpx.get(sim.server.origin + target, headers=headers)
    intact = httpx.get(
        f"{sim.base}/studies/{exam_uid}/series/{other.series_instance_uid}", headers=headers
    )
    assert faulty.content.count(b"DICM") == len(kos.series_by_uid(series_uid).instances) - 1
    assert intact.content.count(b"DICM") == len(other.instances)


def test_unknown_fault_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown fault 'nope'"):
        FaultRule.parse("nope")


def test_every_fault_is_documented() -> None:
    assert set(FAULT_DOCS) == set(Fault)
