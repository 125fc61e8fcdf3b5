"""Properties: how the bytes are split never changes a parse, and the framer loses no byte.

Hypothesis runs derandomised in CI (the `ci` profile of tests/conftest.py).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drimlab.dicomweb.http1 import (
    BodyFramer,
    ChunkedDecoder,
    HeadError,
    HeadReader,
    framing_of,
    parse_response_head,
)

SETTINGS = settings(max_examples=150, deadline=None)

HEADER_LINES = st.sampled_from(
    [
        b"Content-Type: text/plain\r\n",
        b"X-Order: 1\r\n",
        b"x-order: 2\r\n",
        b"X-Bare: lf\n",
        b"  folded continuation\r\n",
        b"X-Broken header line\r\n",
        b"Accept : x\r\n",
        b": empty\r\n",
        b"X: caf\xe9\x01\r\n",
        b"Content-Length: 7\r\n",
        b"Transfer-Encoding: chunked\r\n",
    ]
)


@st.composite
def chunked_body(draw: st.DrawFn) -> bytes:
    out = b""
    for data in draw(st.lists(st.binary(min_size=1, max_size=40), max_size=5)):
        ext = draw(st.sampled_from([b"", b";a=1", b" ; flag"]))
        out += b"%x%s\r\n%s\r\n" % (len(data), ext, data)
    out += draw(st.sampled_from([b"0\r\n\r\n", b"0\r\nT: v\r\n\r\n", b"", b"zz\r\n", b"3\r\nab"]))
    return out


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(draw(st.lists(HEADER_LINES, max_size=8))) + b"\r\n"
    body = draw(st.one_of(chunked_body(), st.binary(max_size=60)))
    return head + body + draw(st.sampled_from([b"", b"HTTP/1.1 204 No Content\r\n\r\n"]))


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({min(p, len(data)) for p in points})
    return [data[a:b] for a, b in zip([0, *marks], [*marks, len(data)], strict=True)]


def read_in(pieces: list[bytes]) -> tuple[bytes, bytes]:
    reader = HeadReader("response")
    for index, piece in enumerate(pieces):
        if reader.feed(piece):
            return reader.head, reader.rest + b"".join(pieces[index + 1 :])
    reader.close()
    raise AssertionError("close() must raise")


def frame_in(framer: BodyFramer, pieces: list[bytes]) -> tuple[bytes, bytes]:
    body, past = bytearray(), bytearray()
    for piece in pieces:
        got, rest = framer.feed(piece)
        body += got
        past += rest
    if not framer.ended:
        framer.close()
    return bytes(body), bytes(past)


@SETTINGS
@given(messages(), st.lists(st.integers(0, 400), max_size=6), st.none() | st.integers(0, 120))
def test_a_head_read_in_pieces_is_the_head_read_whole(
    message: bytes, points: list[int], upto: int | None
) -> None:
    message = message[:upto]  # a capture cut anywhere, the head included
    try:
        whole = read_in([message])
    except HeadError as exc:
        try:
            read_in(cut(message, points))
        except HeadError as again:
            assert str(again) == str(exc)
            return
        raise AssertionError("a split made a head of bytes that are none") from None
    split = read_in(cut(message, points))
    assert split == whole and split[0] + split[1] == message
    assert parse_response_head(split[0]) == parse_response_head(whole[0])


@SETTINGS
@given(messages(), st.lists(st.integers(0, 400), max_size=6))
def test_the_framer_splits_without_losing_a_byte(message: bytes, points: list[int]) -> None:
    raw, after = read_in([message])
    framing, length = framing_of(parse_response_head(raw), "GET")
    one = BodyFramer(framing, length)
    whole = frame_in(one, [after])
    assert whole[0] + whole[1] == after
    many = BodyFramer(framing, length)
    split = frame_in(many, cut(after, points))
    assert split == whole
    assert (many.problems, many.complete) == (one.problems, one.complete)


@SETTINGS
@given(chunked_body(), st.binary(max_size=10), st.lists(st.integers(0, 300), max_size=6))
def test_dechunking_in_pieces_is_dechunking_whole(
    body: bytes, tail: bytes, points: list[int]
) -> None:
    data = body + tail
    whole = ChunkedDecoder()
    expected = whole.feed(data) + whole.close()
    split = ChunkedDecoder()
    got = b"".join(split.feed(piece) for piece in cut(data, points)) + split.close()
    assert got == expected
    # Pieces may split the bytes after the last chunk: the count of problems may differ there.
    assert {p.code for p in split.problems} == {p.code for p in whole.problems}
    framer = BodyFramer(
        framing_of(parse_response_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))[0]
    )
    framed, past = frame_in(framer, cut(data, points))
    assert framed + past == data
    assert list(framer.problems) == [p for p in whole.problems if p.code != "after-last-chunk"]
