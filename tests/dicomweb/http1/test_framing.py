"""Body framing (RFC 9112 §6.3): which framing, and where the body ends in the wire bytes."""

from __future__ import annotations

import pytest

from drimlab.dicomweb.http1 import (
    BodyFramer,
    Framing,
    framing_of,
    parse_request_head,
    parse_response_head,
)


def response(status: str = "200 OK", *lines: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *lines]) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("raw", "method", "expected"),
    [
        (response("200 OK", "Content-Length: 5"), "HEAD", (Framing.NONE, 0)),
        (response("100 Continue"), "GET", (Framing.NONE, 0)),
        (response("204 No Content", "Content-Length: 5"), "GET", (Framing.NONE, 0)),
        (response("304 Not Modified", "Transfer-Encoding: chunked"), "GET", (Framing.NONE, 0)),
        (response("200 OK", "Transfer-Encoding: gzip, Chunked"), "GET", (Framing.CHUNKED, 0)),
        (response("200 OK", "Transfer-Encoding: chunked, gzip"), "GET", (Framing.CLOSE, 0)),
        (
            response("200 OK", "Content-Length: 9", "Transfer-Encoding: chunked"),
            "GET",
            (Framing.CHUNKED, 0),
        ),
        (response("200 OK", "Content-Length: 9"), "GET", (Framing.CONTENT_LENGTH, 9)),
        (response("200 OK", "Content-Length: 9, 9"), "GET", (Framing.CONTENT_LENGTH, 9)),
        (response("200 OK", "Content-Length: 9", "Content-Length: 8"), "GET", (Framing.CLOSE, 0)),
        (response("200 OK", "Content-Length: nine"), "GET", (Framing.CLOSE, 0)),
        (response("200 OK"), "GET", (Framing.CLOSE, 0)),
    ],
)
def test_response_framing(raw: bytes, method: str, expected: tuple[Framing, int]) -> None:
    assert framing_of(parse_response_head(raw), method) == expected


def test_request_framing() -> None:
    assert framing_of(parse_request_head(b"GET / HTTP/1.1\r\n\r\n")) == (Framing.NONE, 0)
    post = parse_request_head(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n")
    assert framing_of(post) == (Framing.CONTENT_LENGTH, 3)


def test_content_length_body_and_the_bytes_past_it() -> None:
    framer = BodyFramer(Framing.CONTENT_LENGTH, 5)
    body, rest = framer.feed(b"hel")
    assert (body.tobytes(), rest.tobytes(), framer.ended) == (b"hel", b"", False)
    body, rest = framer.feed(b"loHTTP/1.1 200 OK")
    assert (body.tobytes(), rest.tobytes(), framer.ended) == (b"lo", b"HTTP/1.1 200 OK", True)
    assert framer.complete and framer.problems == []
    assert framer.feed(b"more")[1].tobytes() == b"more"


def test_views_share_the_bytes_fed() -> None:
    data = b"x" * 100
    body, _ = BodyFramer(Framing.CONTENT_LENGTH, 60).feed(data)
    assert body.obj is data  # a view, not a copy


def test_a_content_length_body_cut_short() -> None:
    framer = BodyFramer(Framing.CONTENT_LENGTH, 10)
    framer.feed(b"1234")
    framer.close()
    assert framer.ended and not framer.complete
    assert framer.problems == ["body ends after 4 of the 10 bytes Content-Length announces"]


def test_no_body_and_close_delimited() -> None:
    none = BodyFramer(Framing.NONE)
    assert none.ended and none.complete and none.feed(b"next")[1].tobytes() == b"next"
    close = BodyFramer(Framing.CLOSE)
    assert len(close.feed(b"abc")[0]) == 3 and not close.complete
    close.close()
    assert close.complete and close.size == 3 and close.problems == []
    assert BodyFramer(Framing.CONTENT_LENGTH, 0).complete
