"""The push de-chunker."""

from __future__ import annotations

from drimlab.dicomweb.http import header_value, header_values
from drimlab.dicomweb.http1 import ChunkedDecoder

RAW = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"


def test_every_split_point() -> None:
    for cut in range(len(RAW) + 1):
        decoder = ChunkedDecoder()
        out = decoder.feed(RAW[:cut]) + decoder.feed(RAW[cut:]) + decoder.close()
        assert out == b"hello world", cut
        assert decoder.done and not decoder.problems


def test_problems() -> None:
    decoder = ChunkedDecoder()
    decoder.feed(b"5\r\nhello\r\n")
    decoder.close()
    assert decoder.problems == ["chunked body ends before its last (zero-size) chunk"]
    decoder = ChunkedDecoder()
    out = decoder.feed(b"zz\r\nabc") + decoder.close()
    assert out == b"zz\nabc" and "bad chunk size" in decoder.problems[0]
    decoder = ChunkedDecoder()
    decoder.feed(b"1\r\nab\r\n0\r\n\r\n")
    assert "not followed by CRLF" in decoder.problems[0]


def test_header_lookup_is_case_insensitive() -> None:
    headers = [("Accept", "a"), ("accept", "b"), ("Host", "h")]
    assert header_values(headers, "ACCEPT") == ["a", "b"]
    assert header_value(headers, "host") == "h"
    assert header_value(headers, "x") is None
