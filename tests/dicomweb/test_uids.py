"""PS3.5 §9.1 UID syntax."""

from __future__ import annotations

import pytest

from drimlab.dicomweb.uids import is_valid_uid, uid_problem


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2.1", "0", "1.0.2", "2.25." + "9" * 58])
def test_valid(uid: str) -> None:
    assert is_valid_uid(uid)


@pytest.mark.parametrize(
    ("uid", "problem"),
    [
        ("", "empty UID"),
        ("1..2", "empty component"),
        ("1.2.", "empty component"),
        ("1.02", "leading zero"),
        ("1.2a", "not only digits"),
        ("1.２", "not only digits"),
        ("1." + "1" * 63, "more than 64"),
    ],
)
def test_invalid(uid: str, problem: str) -> None:
    assert problem in (uid_problem(uid) or "")
