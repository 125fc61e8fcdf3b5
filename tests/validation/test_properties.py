"""Property tests: random and mutated messages never crash a loader or the validator.

A loader may raise InputError (unusable input); everything else must come back as a Report.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drimlab.errors import InputError
from drimlab.exchange import Exchange
from drimlab.validation.engine import ResponseValidator, validate_exchange
from drimlab.validation.loaders import load_har, load_request, load_response
from drimlab.validation.report import Report
from tests.validation.builder import MULTIPART, default_body, request, response

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD_REQUEST = request()
GOOD_RESPONSE = response(body=default_body())


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


def _through_file(data: bytes, load: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "message"
        path.write_bytes(data)
        try:
            loaded = load(path)
        except InputError:
            return None
        exchanges = loaded if isinstance(loaded, list) else [loaded]
        return [validate_exchange(e, "drim-m") for e in exchanges]


def _check(reports: Any) -> None:
    if reports is not None:
        assert all(isinstance(r, Report) for r in reports)
        for r in reports:
            json.dumps(r.as_dict())


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_as_request(data: bytes) -> None:
    _check(_through_file(data, load_request))


@SETTINGS
@given(mutated(GOOD_REQUEST))
def test_mutated_request(data: bytes) -> None:
    _check(_through_file(data, load_request))


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_as_response(data: bytes) -> None:
    _check(_through_file(b"HTTP/1.1 200 OK\r\n" + data, load_response))


@SETTINGS
@given(mutated(GOOD_RESPONSE))
def test_mutated_response(data: bytes) -> None:
    _check(_through_file(data, load_response))


@SETTINGS
@given(
    st.integers(0, len(default_body())),
    st.lists(st.integers(1, 300), min_size=1, max_size=20),
    st.booleans(),
)
def test_multipart_cut_anywhere_in_any_chunks(cut: int, sizes: list[int], encoded: bool) -> None:
    body = default_body()[:cut]
    validator = ResponseValidator(None, "drim-m")
    headers = [("Content-Type", MULTIPART)]
    if encoded:
        headers.append(("Transfer-Encoding", "chunked"))
    validator.feed_headers(200, headers, encoded=encoded)
    position, index = 0, 0
    while position < len(body):
        size = sizes[index % len(sizes)]
        validator.feed(body[position : position + size])
        position, index = position + size, index + 1
    report = validator.close()
    # Cut before the close delimiter's last dash: truncated (or no delimiter at all).
    if 0 < cut < len(default_body()) - 2 and not encoded:
        assert report.verdict.value == "FAILED"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def har_like(draw: st.DrawFn) -> Any:
    entry = {
        "request": {
            "method": draw(st.sampled_from(["GET", "POST", "", 3])),
            "url": draw(st.sampled_from(["/studies/1.2", "https://h/studies/1/series/2", "x"])),
            "headers": draw(
                st.lists(
                    st.fixed_dictionaries(
                        {"name": st.text(max_size=12), "value": st.text(max_size=40)}
                    ),
                    max_size=4,
                )
            ),
        },
        "response": draw(
            st.fixed_dictionaries(
                {
                    "status": st.sampled_from([0, 200, 206, 404, 999, "x"]),
                    "headers": st.just([{"name": "Content-Type", "value": MULTIPART}]),
                    "content": st.fixed_dictionaries({"text": st.text(max_size=60)}),
                }
            )
        ),
    }
    return draw(st.sampled_from([{"log": {"entries": [entry]}}, draw(JSON)]))


@SETTINGS
@given(har_like())
def test_har_json(document: Any) -> None:
    _check(_through_file(json.dumps(document).encode(), load_har))


EXCHANGES = st.builds(
    Exchange,
    method=st.text(max_size=12),
    target=st.text(max_size=80),
    request_headers=st.lists(
        st.tuples(st.text(max_size=20), st.text(max_size=120)), max_size=6
    ).map(tuple),
    status=st.integers(100, 999),
    response_headers=st.lists(
        st.tuples(st.text(max_size=20), st.text(max_size=120)), max_size=6
    ).map(tuple),
    response_body=st.binary(max_size=200),
)


@SETTINGS
@given(EXCHANGES)
def test_arbitrary_exchange_objects(exchange: Exchange) -> None:
    _check([validate_exchange(exchange, "drim-m")])
