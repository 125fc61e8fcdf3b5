"""The chunked coding: one scanner behind the framer and the de-chunker, same problems."""

from __future__ import annotations

import pytest

from drimlab.dicomweb.http1 import (
    MAX_CHUNK_LINE,
    BodyFramer,
    ChunkedDecoder,
    Framing,
    ProblemCode,
    is_chunk_size_line,
)

C = ProblemCode
GOOD = b"5\r\nhello\r\n6;name=value;flag\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"


def decode(data: bytes) -> tuple[bytes, list[str]]:
    decoder = ChunkedDecoder()
    out = decoder.feed(data) + decoder.close()
    return out, list(decoder.problems)


def frame(data: bytes) -> tuple[bytes, bytes, list[str], bool]:
    framer = BodyFramer(Framing.CHUNKED)
    body, rest = framer.feed(data)
    if not framer.ended:
        framer.close()
    return bytes(body), bytes(rest), list(framer.problems), framer.complete


def test_extensions_and_trailers_are_read() -> None:
    assert decode(GOOD) == (b"hello world", [])
    assert frame(GOOD + b"NEXT") == (GOOD, b"NEXT", [], True)


@pytest.mark.parametrize(
    ("wire", "code", "payload"),
    [
        (b"zz\r\nabc", C.CHUNK_SIZE, b"zz\nabc"),
        (b"\r\nabc", C.CHUNK_SIZE, b"\nabc"),
        (b"-5\r\nhello\r\n0\r\n\r\n", C.CHUNK_SIZE, b"-5\nhello\r\n0\r\n\r\n"),
        (b"1" * 17 + b"\r\n", C.CHUNK_SIZE, b"1" * 17 + b"\n"),
        (b"1\r\nab\r\n0\r\n\r\n", C.CHUNK_DATA_CRLF, b"ab\n0\r\n\r\n"),
        (b"5\r\nhello\r\n", C.LAST_CHUNK_MISSING, b"hello"),
        (b"5\r\nhel", C.LAST_CHUNK_MISSING, b"hel"),
        (b"0\r\nX-Trailer: t\r\n", C.LAST_CHUNK_MISSING, b""),
        (b"0\r\nno colon here\r\n\r\n", C.CHUNK_TRAILER, b""),
        (b"0\r\n\r\njunk", C.AFTER_LAST_CHUNK, b""),
    ],
)
def test_each_fault_is_one_problem(wire: bytes, code: ProblemCode, payload: bytes) -> None:
    decoder = ChunkedDecoder()
    out = decoder.feed(wire) + decoder.close()
    assert out == payload
    assert [p.code for p in decoder.problems] == [code]


def test_framer_and_decoder_report_the_same_problems() -> None:
    for wire in (b"zz\r\nabc", b"1\r\nab\r\n0\r\n\r\n", b"5\r\nhello\r\n", b"0\r\nbad\r\n\r\n"):
        _, problems = decode(wire)
        assert frame(wire)[2] == problems, wire


def test_a_chunk_line_that_never_ends() -> None:
    wire = b"5" * (MAX_CHUNK_LINE + 10)
    out, problems = decode(wire)
    assert out == wire and problems == [f"chunk line too long (more than {MAX_CHUNK_LINE} bytes)"]


def test_after_a_fault_the_framer_reads_to_the_close() -> None:
    framer = BodyFramer(Framing.CHUNKED)
    wire = b"5\r\nhello\r\nZZ\r\nmore"
    body, rest = framer.feed(wire)
    assert (body.tobytes(), rest.tobytes(), framer.broken, framer.ended) == (wire, b"", True, False)
    assert len(framer.feed(b"and more")[0]) == 8
    framer.close()
    assert framer.ended and not framer.complete
    assert framer.problems == ["bad chunk size line b'ZZ'"]


def test_a_decoder_that_drops_what_follows_a_fault() -> None:
    decoder = ChunkedDecoder(after_fault=False)
    assert decoder.feed(b"5\r\nhello\r\nZZ\r\nrest") == b"hello"
    assert decoder.feed(b"more") == b""


def test_chunk_size_line_sniffing() -> None:
    assert is_chunk_size_line(b"1a2B") and is_chunk_size_line(b"5 ; ext=1")
    assert not is_chunk_size_line(b"") and not is_chunk_size_line(b"--boundary")
