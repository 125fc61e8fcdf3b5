"""Message heads: each deviation is one problem with its code, and the head is still read."""

from __future__ import annotations

import pickle

import pytest

from drimlab.dicomweb.http1 import (
    LONG_HEAD,
    EmptyMessage,
    HeadReader,
    HeadTooLarge,
    IncompleteHead,
    NotHttp,
    Problem,
    ProblemCode,
    parse_request_head,
    parse_response_head,
    problem_code,
    read_head,
)

C = ProblemCode
OK = b"HTTP/1.1 200 OK\r\n"


def codes(raw: bytes) -> list[ProblemCode]:
    return [p.code for p in parse_response_head(raw).problems]


def test_a_clean_response_head() -> None:
    head = parse_response_head(OK + b"Content-Type: text/plain\r\nX-Order: 1\r\nx-order: 2\r\n\r\n")
    assert (head.http_version, head.status, head.reason) == ("HTTP/1.1", 200, "OK")
    assert head.headers == (("Content-Type", "text/plain"), ("X-Order", "1"), ("x-order", "2"))
    assert head.problems == ()


def test_a_clean_request_head() -> None:
    head = parse_request_head(b"GET /studies/1?x=2 HTTP/1.1\r\nHost: h\r\nAccept:  a/b \t\r\n\r\n")
    assert (head.method, head.target, head.http_version) == ("GET", "/studies/1?x=2", "HTTP/1.1")
    assert head.headers == (("Host", "h"), ("Accept", "a/b"))
    assert head.problems == ()


def test_status_line_without_reason_and_request_line_without_version() -> None:
    assert parse_response_head(b"HTTP/1.1 204\r\n\r\n").reason == ""
    assert parse_request_head(b"GET https://h/studies/1\n\n").http_version == "HTTP/1.1"


def test_a_head_written_with_lf_throughout_is_not_a_problem() -> None:
    head = parse_response_head(b"HTTP/1.1 200 OK\nContent-Type: text/plain\n\n")
    assert head.headers == (("Content-Type", "text/plain"),) and head.problems == ()


def test_a_bare_lf_among_crlf_lines() -> None:
    head = parse_response_head(OK + b"A: 1\nB: 2\r\n\r\n")
    assert head.headers == (("A", "1"), ("B", "2"))
    assert head.problems == ("bare LF line endings among CRLF ones (1 of 4 lines)",)
    assert head.problems[0].code is C.BARE_LF


def test_obs_fold_is_joined_to_the_previous_value_with_a_space() -> None:
    head = parse_response_head(OK + b"X-Long: a\r\n  b\r\n\tc\r\n\r\n")
    assert head.headers == (("X-Long", "a b c"),)
    assert [p.code for p in head.problems] == [C.OBS_FOLD, C.OBS_FOLD]
    assert head.problems[0] == "obsolete line folding: 'b'"


def test_a_folded_line_before_any_header_is_dropped() -> None:
    head = parse_response_head(OK + b" stray\r\nA: 1\r\n\r\n")
    assert head.headers == (("A", "1"),) and codes(OK + b" stray\r\n\r\n") == [C.OBS_FOLD]


@pytest.mark.parametrize(
    ("line", "code", "kept"),
    [
        (b"X-Broken header line", C.NO_COLON, ()),
        (b": no name", C.EMPTY_NAME, ()),
        (b"Accept : x", C.SPACE_BEFORE_COLON, (("Accept", "x"),)),
        (b"X(y): 1", C.BAD_NAME, (("X(y)", "1"),)),
        (b"X\xe9: 1", C.BAD_NAME, (("X\xe9", "1"),)),
        (b"X: a\x01b", C.CONTROL_IN_VALUE, (("X", "a\x01b"),)),
        (b"X: a\rb", C.CONTROL_IN_VALUE, (("X", "a\rb"),)),
        (b"X: caf\xe9", C.NON_ASCII_VALUE, (("X", "caf\xe9"),)),
    ],
)
def test_header_line_deviations(line: bytes, code: ProblemCode, kept: tuple[object, ...]) -> None:
    raw = OK + line + b"\r\n\r\n"
    head = parse_response_head(raw)
    assert [p.code for p in head.problems] == [code]
    assert head.headers == kept


def test_texts_are_stable() -> None:
    raw = OK + b"X-Broken header line\r\n: v\r\nAccept : x\r\nX: a\x01\r\n\r\n"
    assert parse_response_head(raw).problems == (
        "header line without a colon: 'X-Broken header line'",
        "header line without a name: ': v'",
        "whitespace around header name 'Accept '",
        "control character in the value of header 'X': 'a\\x01'",
    )


def test_duplicate_fields_that_take_one_value() -> None:
    assert codes(OK + b"Content-Type: a/b\r\ncontent-type: c/d\r\n\r\n") == [C.DUPLICATE_FIELD]
    request = parse_request_head(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert request.problems == ("2 header lines Host: the field takes a single value",)
    # Repeating a list field is how lists are sent: not a problem.
    assert codes(OK + b"Vary: a\r\nVary: b\r\nWarning: 1\r\nWarning: 2\r\n\r\n") == []
    # The same field order and case come back as received.
    assert parse_request_head(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").headers == (
        ("Host", "a"),
        ("Host", "b"),
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (b"Content-Length: 5\r\nContent-Length: 7\r\n", [C.CONTENT_LENGTH_CONFLICT]),
        (b"Content-Length: 5, 7\r\n", [C.CONTENT_LENGTH_CONFLICT]),
        (b"Content-Length: 5\r\nContent-Length: 5\r\n", [C.CONTENT_LENGTH_REPEATED]),
        (b"Content-Length: 5, 5\r\n", [C.CONTENT_LENGTH_REPEATED]),
        (b"Content-Length: +5\r\n", [C.CONTENT_LENGTH_INVALID]),
        (b"Content-Length: \xb2\r\n", [C.NON_ASCII_VALUE, C.CONTENT_LENGTH_INVALID]),
        (b"Content-Length:\r\n", [C.CONTENT_LENGTH_INVALID]),
        (
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            [C.CONTENT_LENGTH_WITH_TRANSFER_ENCODING],
        ),
        (b"Transfer-Encoding: chunked, chunked\r\n", [C.CHUNKED_TWICE]),
        (b"Transfer-Encoding: gzip\r\n", []),  # a response may end it at the close
    ],
)
def test_framing_field_problems(lines: bytes, expected: list[ProblemCode]) -> None:
    assert codes(OK + lines + b"\r\n") == expected


def test_a_request_whose_last_coding_is_not_chunked() -> None:
    head = parse_request_head(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
    assert [p.code for p in head.problems] == [C.CHUNKED_NOT_LAST]


def test_a_long_head_is_a_problem_a_huge_one_an_error() -> None:
    raw = OK + b"X: " + b"a" * LONG_HEAD + b"\r\n\r\n"
    assert codes(raw) == [C.LONG_HEAD]
    reader = HeadReader("response", max_size=1024)
    with pytest.raises(HeadTooLarge, match="head larger than 1024 bytes"):
        reader.feed(OK + b"X: " + b"a" * 2000)


def test_problems_are_strings_that_keep_their_code() -> None:
    found = parse_response_head(OK + b"X-Broken\r\n\r\n").problems[0]
    assert isinstance(found, Problem) and isinstance(found, str)
    plain = str(found)
    assert type(plain) is str and problem_code(plain) is C.NO_COLON
    assert problem_code("something else") is None
    copy = pickle.loads(pickle.dumps(found))
    assert copy == found and copy.code is C.NO_COLON


# -- where a head ends, and bytes that are no head ---------------------------------------------


def test_reader_keeps_the_head_bytes_and_the_rest() -> None:
    raw = b"\r\n" + OK + b"A: 1\r\n\r\nbody"
    reader = HeadReader("response")
    assert reader.feed(raw)
    assert reader.head == raw[:-4] and reader.rest == b"body"
    lf = b"HTTP/1.1 200 OK\n\n"
    assert read_head("response", lf + b"rest") == (lf, b"rest")


def test_reader_across_pieces_finds_a_blank_line_split_between_them() -> None:
    raw = OK + b"A: 1\r\n\r\nrest"
    for cut in range(len(raw) + 1):
        reader = HeadReader("response")
        if reader.feed(raw[:cut]):
            rest = reader.rest + raw[cut:]
        else:
            assert reader.feed(raw[cut:]), cut
            rest = reader.rest
        assert reader.head == raw[:-4] and rest == b"rest", cut


@pytest.mark.parametrize(
    ("kind", "data", "error", "message"),
    [
        ("response", b"", EmptyMessage, "nothing but blank lines"),
        ("response", b"\r\n\r\n", EmptyMessage, "nothing but blank lines"),
        ("response", b"GET / HTTP/1.1\r\n\r\n", NotHttp, "not an HTTP status line"),
        ("response", b"\x16\x03\x01\x02\x00", NotHttp, "not an HTTP status line"),
        ("request", b"HELLO WORLD FOO BAR\n\n", NotHttp, "not an HTTP request line"),
        ("response", OK + b"Content-Type: te", IncompleteHead, "ends inside its head"),
        ("response", b"HTTP/1.1 200 O", IncompleteHead, "after 14 bytes"),
    ],
)
def test_bytes_that_are_not_a_head(
    kind: str, data: bytes, error: type[Exception], message: str
) -> None:
    reader = HeadReader("request" if kind == "request" else "response")
    with pytest.raises(error, match=message):
        if not reader.feed(data):
            reader.close()


def test_a_bad_start_line_is_refused_before_the_rest_arrives() -> None:
    with pytest.raises(NotHttp):
        HeadReader("response").feed(b"SSH-2.0-OpenSSH_9.2\r\n")
