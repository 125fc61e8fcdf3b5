"""The same bad response bytes give the same problems through every capture path.

The file loader (then the validator), the client simulator's socket client and the capture
tool all read HTTP/1.1 through `drimlab.dicomweb.http1`. Here a loopback server writes raw
bytes, and each path must report exactly the same head problems and body framing problems.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drimlab.errors import InputError
from drimlab.simulators.consumer_http import HttpRequest, TransportError, open_response
from drimlab.testing.capture import capture_response
from drimlab.validation.engine import validate_response
from drimlab.validation.loaders import load_response

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
CASES = {
    "obs-fold": OK + b"X-Long: a\r\n b\r\nContent-Length: 5\r\n\r\nhello",
    "bare-lf": OK + b"X-One: 1\nContent-Length: 5\r\n\r\nhello",
    "duplicate-content-length": OK + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
    "no-colon": OK + b"X-Broken header line\r\nContent-Length: 5\r\n\r\nhello",
    "bad-chunk-size": CHUNKED + b"\r\n5\r\nhello\r\nZZ\r\nthe rest",
    "truncated-chunked": CHUNKED + b"\r\n5\r\nhello\r\n10\r\nonly part",
    "all-together": CHUNKED.replace(b"Content-Type: text/plain\r\n", b"Content-Type: text/plain\n")
    + b"X-Long: a\r\n\tb\r\nX-Broken\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
    b"3\r\nabc\r\n3x\r\n",
}
EXPECTED = {
    "obs-fold": (["obsolete line folding: 'b'"], []),
    "bare-lf": (["bare LF line endings among CRLF ones (1 of 5 lines)"], []),
    "duplicate-content-length": (["Content-Length values disagree: 5, 7"], []),
    "no-colon": (["header line without a colon: 'X-Broken header line'"], []),
    "bad-chunk-size": ([], ["bad chunk size line b'ZZ'"]),
    "truncated-chunked": ([], ["chunked body ends before its last (zero-size) chunk"]),
    "all-together": (
        [
            "bare LF line endings among CRLF ones (1 of 9 lines)",
            "obsolete line folding: 'b'",
            "header line without a colon: 'X-Broken'",
            "Content-Length values disagree: 3, 4",
            "Content-Length '3, 4' together with Transfer-Encoding 'chunked': "
            "Transfer-Encoding delimits the body",
        ],
        ["bad chunk size line b'3x'"],
    ),
}


@contextmanager
def raw_server(reply: bytes) -> Iterator[str]:
    """A one-connection loopback server: reads the request, writes `reply`, closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/studies/1"
    finally:
        thread.join(timeout=30)


def through_the_loader(raw: bytes, folder: Path) -> list[str]:
    path = folder / "response.http"
    path.write_bytes(raw)
    exchange = load_response(path)
    report = validate_response(exchange, "dicomweb")
    transfer = [f.message for f in report.findings if f.rule == "WADO-RS-010"]
    return [*exchange.response_problems, *transfer]


def through_the_client(raw: bytes) -> list[str]:
    with raw_server(raw) as url:
        request = HttpRequest("GET", url, (("Host", "127.0.0.1"), ("Connection", "close")))
        with open_response(request, timeout=30) as stream:
            for _ in stream.body():
                pass
            return [*stream.head.problems, *stream.framing_problems]


def through_the_capture_tool(raw: bytes, folder: Path) -> list[str]:
    with raw_server(raw) as url:
        captured = capture_response(url, folder / "captured.http", timeout=30)
    assert (folder / "captured.http").read_bytes() == raw  # kept byte for byte
    return list(captured.problems)


@pytest.mark.parametrize("case", CASES)
def test_every_path_reports_the_same_problems(case: str, tmp_path: Path) -> None:
    raw = CASES[case]
    head_problems, framing_problems = EXPECTED[case]
    from_file = through_the_loader(raw, tmp_path)
    assert from_file == head_problems + framing_problems
    assert through_the_client(raw) == from_file
    assert through_the_capture_tool(raw, tmp_path) == from_file


def test_the_findings_of_the_file_name_the_same_problems(tmp_path: Path) -> None:
    path = tmp_path / "r.http"
    path.write_bytes(CASES["all-together"])
    report = validate_response(load_response(path), "dicomweb")
    header_findings = [
        (f.message, f.severity.value) for f in report.findings if f.rule == "WADO-RS-011"
    ]
    # The Content-Length beside Transfer-Encoding is WADO-RS-009's, judged with the body.
    assert header_findings == [
        ("bare LF line endings among CRLF ones (1 of 9 lines)", "warning"),
        ("obsolete line folding: 'b'", "error"),
        ("header line without a colon: 'X-Broken'", "error"),
        ("Content-Length values disagree: 3, 4", "error"),
    ]
    assert "WADO-RS-009" in {f.rule for f in report.findings}


CUT_IN_HEAD = b'HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type="application/dic'


def test_a_response_cut_inside_its_head_is_an_error_on_every_path(tmp_path: Path) -> None:
    path = tmp_path / "cut.http"
    path.write_bytes(CUT_IN_HEAD)
    with pytest.raises(InputError, match="ends inside its head after 71 bytes"):
        load_response(path)
    with (
        raw_server(CUT_IN_HEAD) as url,
        pytest.raises(TransportError, match="ends inside its head after 71 bytes"),
    ):
        open_response(HttpRequest("GET", url, (("Host", "127.0.0.1"),)), timeout=30)
    with (
        raw_server(CUT_IN_HEAD) as url,
        pytest.raises(InputError, match="ends inside its head after 71 bytes"),
    ):
        capture_response(url, tmp_path / "never.http", timeout=30)
    assert not (tmp_path / "never.http").exists()


def test_garbage_is_not_http_on_every_path(tmp_path: Path) -> None:
    garbage = b"\x15\x03\x01\x00\x02\x02\x46"  # a TLS alert, sent to a plain-HTTP client
    path = tmp_path / "garbage.http"
    path.write_bytes(garbage)
    with pytest.raises(InputError, match="not an HTTP status line"):
        load_response(path)
    with raw_server(garbage) as url, pytest.raises(TransportError, match="not an HTTP status"):
        open_response(HttpRequest("GET", url, (("Host", "127.0.0.1"),)), timeout=30)
    with raw_server(garbage) as url, pytest.raises(InputError, match="not an HTTP status line"):
        capture_response(url, tmp_path / "never.http", timeout=30)
