"""Streaming multipart: every chunk split decodes the same; the encoder's length is exact."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drimlab.dicomweb.multipart import (
    Event,
    MultipartDecoder,
    PartData,
    PartEnd,
    PartStart,
    encode,
    encoded_length,
    new_boundary,
)

PARTS = [
    ([("Content-Type", "application/dicom")], b"first\r\n--almost-the-boundary"),
    ([("Content-Type", "application/dicom"), ("Content-Length", "0")], b""),
    ([("Content-Type", "x/y")], b"\r\n--b\r\n--b-"),
]


def _body(boundary: str = "b0") -> bytes:
    return b"".join(encode(boundary, ((h, [d[:3], d[3:]]) for h, d in PARTS)))


def _collect(events: list[Event]) -> list[tuple[tuple[tuple[str, str], ...], bytes]]:
    parts: list[tuple[tuple[tuple[str, str], ...], bytes]] = []
    for event in events:
        if isinstance(event, PartStart):
            parts.append((event.headers, b""))
        elif isinstance(event, PartData):
            parts[-1] = (parts[-1][0], parts[-1][1] + event.data)
        elif isinstance(event, PartEnd):
            assert event.size == len(parts[-1][1])
    return parts


def _decode(chunks: list[bytes], boundary: str = "b0") -> tuple[list[object], MultipartDecoder]:
    decoder = MultipartDecoder(boundary)
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return list(_collect(events)), decoder


def test_encoded_length_is_exact() -> None:
    assert encoded_length("b0", [(h, len(d)) for h, d in PARTS]) == len(_body())
    assert encoded_length("b0", []) == len(b"".join(encode("b0", [])))


def test_every_split_point_gives_the_same_parts() -> None:
    body = _body()
    expected = [(tuple(h), d) for h, d in PARTS]
    for cut in range(len(body) + 1):
        parts, decoder = _decode([body[:cut], body[cut:]])
        assert parts == expected, cut
        assert decoder.closed_properly and not decoder.problems


def test_every_two_split_points_on_a_short_body() -> None:
    body = b"".join(encode("z", [([("A", "1")], [b"xy--z"])]))
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1):
            parts, _ = _decode([body[:i], body[i:j], body[j:]], "z")
            assert parts == [((("A", "1"),), b"xy--z")]


def test_byte_by_byte() -> None:
    body = _body()
    parts, _ = _decode([body[i : i + 1] for i in range(len(body))])
    assert parts == [(tuple(h), d) for h, d in PARTS]


def test_truncated_and_missing_boundary_are_problems() -> None:
    body = _body()
    _, decoder = _decode([body[:-8]])
    assert not decoder.closed_properly
    assert any("truncated" in p for p in decoder.problems)
    _, decoder = _decode([b"no delimiter here"])
    assert any("no delimiter" in p for p in decoder.problems)


def test_preamble_epilogue_and_junk() -> None:
    body = b"preamble\r\n" + _body() + b"epilogue"
    parts, decoder = _decode([body])
    assert len(parts) == 3
    assert decoder.preamble_size == len(b"preamble")
    assert decoder.epilogue_size == 2 + len(b"epilogue")
    _, decoder = _decode([b"--b0 junk\r\nA: 1\r\n\r\nx\r\n--b0--"])
    assert any("junk" in p for p in decoder.problems)
    _, decoder = _decode([b"--b0\r\nno colon\r\n\r\nx\r\n--b0--"])
    assert any("malformed header" in p for p in decoder.problems)


def test_new_boundary_is_a_token() -> None:
    a, b = new_boundary(), new_boundary()
    assert a != b and len(a) <= 70


BOUNDARY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-'()+_,./:=?"


@settings(max_examples=80, deadline=None)
@given(
    st.text(BOUNDARY_CHARS, min_size=1, max_size=70),
    st.lists(st.binary(max_size=300), max_size=5),
    st.lists(st.integers(1, 200), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
)
def test_random_parts_and_chunkings(
    boundary: str, bodies: list[bytes], sizes: list[int], rnd: random.Random
) -> None:
    # Sprinkle near-delimiters into the bodies: "\r\n--" + a prefix of the boundary.
    near = b"\r\n--" + boundary.encode()[: max(0, len(boundary) - 1)]
    bodies = [
        b[: len(b) // 2] + near + b[len(b) // 2 :] if rnd.random() < 0.5 else b for b in bodies
    ]
    body = b"".join(encode(boundary, (([("X", str(i))], [d]) for i, d in enumerate(bodies))))
    # A body must not contain the delimiter itself (RFC 2046 §5.1.1): skip those draws.
    assume((b"\r\n" + body).count(b"\r\n--" + boundary.encode()) == len(bodies) + 1)
    chunks, position, index = [], 0, 0
    while position < len(body):
        size = sizes[index % len(sizes)] * (50 if rnd.random() < 0.3 else 1)
        chunks.append(body[position : position + size])
        position, index = position + size, index + 1
    parts, decoder = _decode(chunks, boundary)
    assert parts == [((("X", str(i)),), d) for i, d in enumerate(bodies)]
    assert decoder.closed_properly and not decoder.problems
