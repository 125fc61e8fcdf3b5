"""The relay's meter: the digest of what was sent is always the digest of the bytes sent,
whether the relay sent the very objects it received or anything else."""

from __future__ import annotations

import hashlib

from drimlab.proxy.capture import Meter


def _sha(*pieces: bytes) -> str:
    return hashlib.sha256(b"".join(pieces)).hexdigest()


def test_the_received_objects_sent_in_order_give_the_same_digest() -> None:
    meter = Meter()
    pieces = [b"HTTP/1.1 200 OK\r\n\r\n", b"a" * 5000, memoryview(b"b" * 7000)[1000:]]
    for piece in pieces:
        meter.got(piece)
        meter.put(piece)
    tally = meter.tally()
    assert tally.identical
    assert tally.sent_sha256 == _sha(*(bytes(p) for p in pieces))
    assert tally.sent_bytes == tally.received_bytes == sum(len(p) for p in pieces)


def test_pieces_sent_later_than_received_still_match() -> None:
    meter = Meter()
    first, second = b"x" * 10, b"y" * 20
    meter.got(first)
    meter.got(second)
    meter.put(first)
    assert meter.tally().sent_sha256 == _sha(first)
    meter.put(second)
    assert meter.tally().identical


def test_other_bytes_sent_are_hashed_as_sent() -> None:
    meter = Meter()
    meter.got(b"abc")
    meter.put(b"abd")  # another object, other bytes
    meter.got(b"def")
    meter.put(b"def")
    tally = meter.tally()
    assert not tally.identical
    assert tally.sent_sha256 == _sha(b"abd", b"def")
    assert tally.received_sha256 == _sha(b"abc", b"def")


def test_equal_bytes_in_another_object_are_still_identical() -> None:
    meter = Meter()
    meter.got(b"head")
    meter.put(bytes(bytearray(b"head")))
    meter.got(b"body")
    meter.put(b"body")
    assert meter.tally().identical


def test_a_missing_or_reordered_piece_is_not_identical() -> None:
    skipped, reordered = Meter(), Meter()
    for meter in (skipped, reordered):
        meter.got(b"one")
        meter.got(b"two")
    skipped.put(b"two")
    reordered.put(b"two")
    reordered.put(b"one")
    assert not skipped.tally().identical
    assert not reordered.tally().identical
    assert reordered.tally().sent_sha256 == _sha(b"two", b"one")


def test_a_request_sent_again_counts_only_the_new_sending() -> None:
    meter = Meter()
    head = b"GET / HTTP/1.1\r\n\r\n"
    meter.got(head)
    meter.put(head)
    meter.restart_sent()
    meter.put(head)
    tally = meter.tally()
    assert tally.identical and tally.sent_bytes == len(head)
