"""Loaders: request, response and HAR files; unusable input is one InputError."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.errors import InputError
from drimlab.exchange import FileSlice, iter_body
from drimlab.validation.loaders import load_any, load_har, load_request, load_response
from tests.validation.builder import chunk_encode, default_body, request, response


def test_request_lf_and_crlf_give_the_same_exchange(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.http"
    crlf.write_bytes(request())
    lf = tmp_path / "lf.http"
    lf.write_bytes(request().replace(b"\r\n", b"\n"))
    a, b = load_request(crlf), load_request(lf)
    assert (a.method, a.target, a.request_headers) == (b.method, b.target, b.request_headers)
    assert a.request_body is None and not a.request_problems


def test_request_problems_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.http"
    path.write_bytes(b"GET /studies/1 HTTP/1.1\nAccept : x\n folded\nno colon\n\n")
    exchange = load_request(path)
    assert len(exchange.request_problems) == 3


def test_response_body_stays_on_disk_and_chunked_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "r.resp"
    body = default_body()
    path.write_bytes(response(chunked=chunk_encode(body)))
    exchange = load_response(path)
    assert exchange.status == 200 and exchange.response_body_encoded
    assert isinstance(exchange.response_body, FileSlice)
    assert b"".join(iter_body(exchange.response_body, 7)) == chunk_encode(body)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\x00\x01binary", "not an HTTP request line"),
        (b"HELLO WORLD FOO BAR\n\n", "not an HTTP request line"),
    ],
)
def test_unusable_requests(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_request(path)


def test_unusable_response_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"GET / HTTP/1.1\n\n")
    with pytest.raises(InputError, match="status line"):
        load_response(path)
    with pytest.raises(InputError, match="no such file"):
        load_request(tmp_path / "missing")


def test_har_entries(tmp_path: Path) -> None:
    body = default_body()
    har = {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "request": {
                        "method": "GET",
                        "url": "https://h/studies/1.2",
                        "httpVersion": "HTTP/1.1",
                        "headers": [{"name": "Accept", "value": "*/*"}],
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "headers": [{"name": "Content-Type", "value": "text/plain"}],
                        "content": {"text": base64.b64encode(body).decode(), "encoding": "base64"},
                    },
                    "time": 12.5,
                },
                {"request": {"method": "GET", "url": "/studies/9"}, "response": {"status": 0}},
            ],
        }
    }
    path = tmp_path / "c.har"
    path.write_text(json.dumps(har))
    first, second = load_har(path)
    assert first.response_body == body and first.status == 200
    assert first.timings == {"total_ms": 12.5}
    assert second.status is None and second.has_request
    assert load_any(path)[0].target == "https://h/studies/1.2"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"log": {}}',
        '{"log": {"entries": [1]}}',
        '{"log": {"entries": [{"request": {"method": 1, "url": "/"}}]}}',
        '{"log": {"entries": [{"request": {"method": "GET", "url": "/", "headers": [1]}}]}}',
        '{"log": {"entries": [{"request": {"method": "GET", "url": "/"},'
        ' "response": {"status": 200, "headers": [],'
        ' "content": {"text": "@@", "encoding": "base64"}}}]}}',
    ],
)
def test_unusable_har(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.har"
    path.write_text(text)
    with pytest.raises(InputError):
        load_har(path)


def test_load_any_sniffs(tmp_path: Path) -> None:
    req = tmp_path / "a"
    req.write_bytes(request())
    resp = tmp_path / "b"
    resp.write_bytes(response())
    assert load_any(req)[0].has_request
    assert load_any(resp)[0].has_response


def test_chunked_header_with_an_already_decoded_body(tmp_path: Path) -> None:
    # curl without --raw keeps "Transfer-Encoding: chunked" but writes the decoded body.
    path = tmp_path / "curl.resp"
    raw = response(chunked=chunk_encode(default_body()))
    head, _, _ = raw.partition(b"\r\n\r\n")
    path.write_bytes(head + b"\r\n\r\n" + default_body())
    assert not load_response(path).response_body_encoded


def test_a_request_cut_inside_its_head_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "cut.http"
    path.write_bytes(request()[:40])
    with pytest.raises(InputError, match="ends inside its head"):
        load_request(path)


def test_request_and_response_files_report_framing_field_problems(tmp_path: Path) -> None:
    path = tmp_path / "r.http"
    path.write_bytes(b"GET /studies/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert load_request(path).request_problems == (
        "2 header lines Host: the field takes a single value",
    )


def test_a_lone_surrogate_in_a_har_is_kept_as_bytes_and_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = {
        "request": {
            "method": "GET",
            "url": "https://src.test/dicom-web/studies/1.2.3",
            "headers": [{"name": "Accept", "value": 'multipart/related; type="\ud800"'}],
        },
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Type", "value": "application/dicom"}],
            "content": {"text": "body \ud800 \udcff"},
        },
    }
    path = tmp_path / "surrogate.har"
    path.write_text(json.dumps({"log": {"entries": [entry]}}), encoding="ascii")
    (exchange,) = load_har(path)
    assert exchange.response_body == b"body \xed\xa0\x80 \xed\xb3\xbf"
    assert exchange.request_headers[0][1] == 'multipart/related; type="\udced\udca0\udc80"'
    monkeypatch.setenv("DRIMLAB_HOME", str(tmp_path / "home"))
    assert run(["validate", "har", str(path), "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert json.loads(captured.out)["verdict"] == "FAILED"
    for fmt in ("text", "html", "junit", "gazelle-json", "gazelle-xml"):
        target = tmp_path / f"report.{fmt}"
        assert run(["validate", "har", str(path), "--format", fmt, "--output", str(target)]) == 1
        assert "Traceback" not in capsys.readouterr().err
        assert target.read_text(encoding="utf-8")
