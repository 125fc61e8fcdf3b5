"""Media types, Accept parsing and negotiation."""

from __future__ import annotations

import pytest

from drimlab.dicomweb.media import (
    MediaTypeError,
    accepted_transfer_syntaxes,
    choose,
    parse_accept,
    parse_media_type,
    quote_if_needed,
    split_list,
)

EVLE = "1.2.840.10008.1.2.1"
JLS = "1.2.840.10008.1.2.4.80"


def test_parameters_keep_quoting() -> None:
    m = parse_media_type('Multipart/Related; type="application/dicom"; boundary=a;q=0.5')
    assert m.essence == "multipart/related"
    assert [(p.name, p.value, p.quoted) for p in m.parameters] == [
        ("type", "application/dicom", True),
        ("boundary", "a", False),
        ("q", "0.5", False),
    ]
    assert m.q == 0.5


def test_unquoted_type_is_parsed_but_flagged() -> None:
    (p,) = parse_media_type("multipart/related; type=application/dicom").parameters
    assert p.badly_unquoted


def test_quoted_string_with_escapes_and_separators() -> None:
    m = parse_media_type(r'multipart/related; boundary="a;b,\"c"')
    assert m.param("boundary") == 'a;b,"c'
    assert split_list(r'a; x="1,2", b') == ['a; x="1,2"', "b"]


@pytest.mark.parametrize(
    "text", ["multipart", "a/b; x", 'a/b; x="open', "a/b; =1", "a b/c", 'a/b; x="1" y']
)
def test_unparseable(text: str) -> None:
    with pytest.raises(MediaTypeError):
        parse_media_type(text)


@pytest.mark.parametrize(
    ("q", "ok"),
    [
        ("0", True),
        ("1.000", True),
        ("0.125", True),
        ("1.5", False),
        ("0.1234", False),
        ("x", False),
    ],
)
def test_q_values(q: str, ok: bool) -> None:
    assert (parse_media_type(f"a/b; q={q}").q_problem() is None) is ok


def test_accept_counts_empty_elements_and_problems() -> None:
    accept = parse_accept(["a/b, ,c/d,", "bad"])
    assert [r.essence for r in accept.ranges] == ["a/b", "c/d"]
    assert accept.empty_elements == 2
    assert [p.text for p in accept.problems] == ["bad"]


def _offer(ts: str):  # type: ignore[no-untyped-def]
    return parse_media_type(f'multipart/related; type="application/dicom"; transfer-syntax={ts}')


def test_choose_follows_q_then_client_order() -> None:
    mp = 'multipart/related; type="application/dicom"'
    accept = f"{mp}; transfer-syntax={EVLE}; q=0.4, {mp}; transfer-syntax={JLS}; q=0.9"
    assert choose(accept, [_offer(EVLE), _offer(JLS)]) == _offer(JLS)
    assert choose(f"{mp}; transfer-syntax={JLS}; q=0", [_offer(JLS)]) is None
    assert choose(mp, [_offer(JLS), _offer(EVLE)]) == _offer(EVLE)  # no ts: the default
    assert choose(f"{mp}; transfer-syntax=*", [_offer(JLS)]) == _offer(JLS)
    assert choose("*/*", [_offer(JLS), _offer(EVLE)]) == _offer(EVLE)  # the default syntax
    assert choose('multipart/related; type="image/jpeg"', [_offer(EVLE)]) is None
    assert choose(None, [_offer(JLS)]) == _offer(JLS)


def test_accepted_transfer_syntaxes() -> None:
    mp = 'multipart/related; type="application/dicom"'
    got = accepted_transfer_syntaxes(parse_accept(f"{mp}; transfer-syntax={JLS}, {mp}; q=0.1"))
    assert got.uids == {JLS, EVLE} and not got.anything
    assert accepted_transfer_syntaxes(parse_accept(f"{mp}; transfer-syntax=*")).allows("1.2.3")
    assert accepted_transfer_syntaxes(None).uids == {EVLE}


def test_quote_if_needed() -> None:
    assert quote_if_needed("abc") == "abc"
    assert quote_if_needed('a/"b') == '"a/\\"b"'


def test_an_element_of_bare_parameters_is_read_as_a_dicom_range() -> None:
    (media,) = parse_accept("transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9;boundary=b").ranges
    assert media.implied
    assert media.essence == "multipart/related"
    assert media.param("type") == "application/dicom"
    assert media.q == 0.9
    assert accepted_transfer_syntaxes(parse_accept(str(media))).uids == {"1.2.840.10008.1.2.4.50"}
    (typed,) = parse_accept('type="application/dicom";transfer-syntax=*').ranges
    assert typed.implied and [p.name for p in typed.parameters] == ["type", "transfer-syntax"]
    assert not parse_accept("multipart/related; type=a/b").ranges[0].implied


def test_several_accept_fields_are_one_list_in_order() -> None:
    parsed = parse_accept([f"{DICOM_RANGE};transfer-syntax={JLS};q=0.9", DICOM_RANGE])
    assert [m.param("transfer-syntax") for m in parsed.ranges] == [JLS, None]


DICOM_RANGE = 'multipart/related; type="application/dicom"'
