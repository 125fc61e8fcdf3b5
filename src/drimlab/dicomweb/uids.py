"""DICOM Unique Identifier syntax (PS3.5 §9.1): digits and dots, at most 64 characters."""

from __future__ import annotations

MAX_LENGTH = 64


def uid_problem(uid: str) -> str | None:
    """Say what is wrong with `uid` under PS3.5 §9.1, or None when it is well formed.

    >>> uid_problem("1.2.840.10008.1.2.1") is None
    True
    >>> uid_problem("1.02.3")
    "component '02' has a leading zero"
    """
    if not uid:
        return "empty UID"
    if len(uid) > MAX_LENGTH:
        return f"{len(uid)} characters, more than {MAX_LENGTH}"
    for component in uid.split("."):
        if not component:
            return "empty component"
        if not (component.isascii() and component.isdigit()):
            return f"component {component!r} is not only digits"
        if len(component) > 1 and component.startswith("0"):
            return f"component {component!r} has a leading zero"
    return None


def is_valid_uid(uid: str) -> bool:
    """True when `uid` is a well-formed DICOM UID."""
    return uid_problem(uid) is None
