"""Failures of the bench itself (never a non-conformance of a system under test: that is a Finding).

DrimlabError              base of everything drimlab raises on purpose
├── InputError            unusable input: a file, an argument, a URL (CLI exit 2)
│   └── QuotaExceeded     the organisation has reached its storage quota (HTTP 429)
├── StoreError            the store cannot be opened, migrated or written
└── ConfigurationError    missing or inconsistent setup (no PKI yet, no dataset, ...)
"""

from __future__ import annotations


class DrimlabError(Exception):
    """Base of every error drimlab raises on purpose; its message is one line for a user."""


class InputError(DrimlabError):
    """An input cannot be used: a missing or corrupt file, a bad argument."""


class QuotaExceeded(InputError):
    """The organisation has reached its storage quota: nothing more is stored for it."""


class StoreError(DrimlabError):
    """The store cannot be opened, migrated or written."""


class ConfigurationError(DrimlabError):
    """Something the command needs is not set up (no PKI yet, no dataset, ...)."""


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of an error's message, for a user (`default`, else the error's class
    name, when it has none)."""
    lines = str(exc).splitlines()
    return lines[0] if lines else default or type(exc).__name__
