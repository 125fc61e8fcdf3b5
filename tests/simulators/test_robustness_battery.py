"""The malformed-request battery against a running `drimlab serve` (a real process, loopback).

Each request of the battery is sent on its own connection, raw, as an attacker or a broken
consumer would. Whatever they send, the simulator must answer each one it can read with a
4xx (never a 5xx), stay healthy (a DRIM-M retrieve still gets its 200), stay bounded in
memory (its RSS, read from /proc, grows by less than a bound far below what an amplified
response would cost), print no traceback, and record the requests it read (rejections are
recorded, aggregated per address when they repeat).
"""

from __future__ import annotations

import http.client
import socket
import threading
from pathlib import Path

from drimlab.config import Settings
from drimlab.simulators.runner import free_port
from tests.simulators.serving import serve, smallest_instance, stored

#: RSS growth allowed over the whole battery. One amplified frames request of the kind the
#: issue reported (an 8 KB URL repeating one frame) built 192 MB; four of them 2.7 GB.
RSS_BOUND_MB = 64
TIMEOUT = 30.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _raw(port: int, data: bytes, *, close_early: bool = False) -> bytes:
    """Send `data` on a fresh connection; the answer's head and body (or what came back
    before the server closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        if close_early:
            return b""
        received = b""
        while True:
            head, sep, body = received.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")[1:]
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(body) >= length:
                    return received
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                return received
            if not chunk:
                return received
            received += chunk


def _status(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def _battery(path: str, headers: dict[str, str]) -> dict[str, bytes]:
    """The malformed requests, by name (each a whole HTTP/1.1 message, or not even that)."""
    good = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    series = path.rsplit("/instances/", 1)[0]
    repeated = ",".join(["1"] * 4000)
    return {
        "authorization-not-utf8": (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\n".encode()
            + b"Authorization: Bearer \xff\xfe\x80\r\n\r\n"
        ),
        "kos-header-not-utf8": (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\n".encode()
            + b"KOS-SOPInstanceUID: \xc3\x28\xa0\xa1\r\n\r\n"
        ),
        "frames-repeated": f"GET {path}/frames/{repeated} HTTP/1.1\r\n{good}\r\n".encode(),
        "frames-too-many": (
            f"GET {path}/frames/{','.join(str(i) for i in range(1, 1500))} HTTP/1.1\r\n{good}\r\n"
        ).encode(),
        "frames-not-numbers": f"GET {path}/frames/1,a,-3 HTTP/1.1\r\n{good}\r\n".encode(),
        "uid-traversal": f"GET {series}/../../../../etc/passwd HTTP/1.1\r\n{good}\r\n".encode(),
        "outside-the-service": f"GET /admin HTTP/1.1\r\n{good}\r\n".encode(),
        "method-delete": f"DELETE {path} HTTP/1.1\r\n{good}\r\n".encode(),
        "header-line-too-long": (
            f"GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Big: {'a' * 20000}\r\n\r\n".encode()
        ),
        "too-many-headers": (
            f"GET {path} HTTP/1.1\r\n" + "".join(f"X-H{i}: {i}\r\n" for i in range(400)) + "\r\n"
        ).encode(),
        "no-http-version": f"GET {path}\r\n\r\n".encode(),
        "binary-garbage": bytes(range(256)) * 8 + b"\r\n\r\n",
        "bad-chunked-body": (
            f"POST {path} HTTP/1.1\r\n{good}Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n"
        ).encode(),
        "accept-absurd": (
            f"GET {path} HTTP/1.1\r\n{good}"
            f"Accept: {';'.join(['multipart/related'] + ['q=0.5'] * 2000)}\r\n\r\n"
        ).encode(),
    }


def test_the_malformed_request_battery_leaves_the_simulator_healthy_and_bounded(
    default_dataset_copy: Settings,
) -> None:
    home = default_dataset_copy.home
    target = smallest_instance(default_dataset_copy)
    port = free_port()
    before = stored(home / "drimlab.db")
    serving = serve(home, port)
    try:
        serving.wait_for("serving")
        pid = serving.process.pid

        def retrieve() -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            try:
                conn.request("GET", target.path, headers=target.headers())
                response = conn.getresponse()
                response.read()
                return response.status
            finally:
                conn.close()

        assert retrieve() == 200
        start_rss = _rss_mb(pid)
        battery = _battery(target.path, target.headers())
        answers: dict[str, int | None] = {}
        for name, data in battery.items():
            answers[name] = _status(_raw(port, data))
        # four amplified frames requests at once, and a DRIM-M retrieve beside them
        results: list[int | None] = []
        senders: list[threading.Thread] = []

        def send() -> None:
            results.append(_status(_raw(port, battery["frames-repeated"])))

        for _ in range(4):
            senders.append(threading.Thread(target=send))
            senders[-1].start()
        beside = retrieve()
        for sender in senders:
            sender.join(TIMEOUT)
        # a client that opens, sends half a head and goes away
        for _ in range(20):
            _raw(port, f"GET {target.path} HTTP/1.1\r\nHost: local".encode(), close_early=True)
        after_rss = _rss_mb(pid)
        healthy = retrieve()
    finally:
        serving.process.send_signal(2)
        code = serving.finish()
    output = serving.output
    assert code == 0, output
    assert "Traceback" not in output
    assert healthy == 200 and beside == 200
    server_errors = {n: s for n, s in answers.items() if s is not None and s >= 500}
    assert server_errors == {}, answers
    unanswered = sorted(n for n, s in answers.items() if s is None)
    # only bytes that are not HTTP at all may go unanswered
    assert set(unanswered) <= {"binary-garbage", "no-http-version"}, answers
    assert all(s is not None and 400 <= s < 500 for s in results), results
    assert answers["frames-repeated"] == 400 and answers["frames-too-many"] == 400
    assert answers["authorization-not-utf8"] == 401
    assert after_rss - start_rss < RSS_BOUND_MB, (start_rss, after_rss)
    new = {i: s for i, s in stored(home / "drimlab.db").items() if i not in before}
    refused = [s for s in new.values() if s is not None and 400 <= s < 500]
    answered = [s for s in [*answers.values(), *results] if s is not None]
    # every rejection is recorded (5 a minute per address and cause one by one, the rest as
    # one summary exchange): at least one record per distinct status the battery got
    assert len(refused) >= len(set(answered)), (sorted(answered), sorted(refused))
    assert sum(1 for s in new.values() if s == 200) >= 3
