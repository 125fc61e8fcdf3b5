"""Header look-up over raw ordered headers (RFC 9110 §5); parsing is done by `dicomweb.http1`."""

from __future__ import annotations

from collections.abc import Sequence

from drimlab.dicomweb.media import is_token

RawHeaders = Sequence[tuple[str, str]]


def header_values(headers: RawHeaders, name: str) -> list[str]:
    """Every value of header `name` (case-insensitive), in the order received."""
    wanted = name.lower()
    return [value for key, value in headers if key.strip().lower() == wanted]


def header_value(headers: RawHeaders, name: str) -> str | None:
    """The first value of header `name`, or None."""
    values = header_values(headers, name)
    return values[0] if values else None


def is_valid_field_name(name: str) -> bool:
    """True when `name` is a token, as RFC 9110 §5.1 requires of field names."""
    return is_token(name)
