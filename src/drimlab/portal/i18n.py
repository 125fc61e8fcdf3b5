"""French and English: the portal's texts are gettext messages, translated by a `.po` catalogue.

The catalogue (`locale/fr/LC_MESSAGES/messages.po`) is read with Babel when first needed, so a
clean checkout works with no compile step. The language of a request is the `drimlab_lang`
cookie (set by the switch on every page), else the best match of `Accept-Language`, else
English; it is held in a context variable for the request's templates and messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("en", "fr")
DEFAULT = "en"
COOKIE = "drimlab_lang"
LOCALE_DIR = Path(__file__).parent / "locale"

_current: ContextVar[str] = ContextVar("drimlab_portal_language", default=DEFAULT)


@cache
def catalogue(language: str) -> dict[str, str]:
    """msgid -> translation of one language (empty for English, the source language)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.exists():
        return {}
    with path.open("rb") as handle:
        messages = read_po(handle, locale=language)
    return {
        str(m.id): str(m.string)
        for m in messages
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
    }


def current() -> str:
    return _current.get()


def gettext(message: str) -> str:
    """The message in the request's language (itself when untranslated)."""
    return catalogue(_current.get()).get(message, message)


def mark(message: str) -> str:
    """Mark a text for translation where it is defined; `gettext` translates it where shown."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    return gettext(singular if count == 1 else plural)


def negotiate(accept_language: str | None) -> str:
    """The best of LANGUAGES for an `Accept-Language` header (English when none fits)."""
    best, best_q = DEFAULT, -1.0
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES and primary != "*":
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        choice = DEFAULT if primary == "*" else primary
        if q > best_q or (q == best_q and position == 0):
            best, best_q = choice, q
    return best if best_q > 0 else DEFAULT


def chosen(cookie: str | None, accept_language: str | None) -> str:
    """The request's language: the cookie if it names one, else `Accept-Language`."""
    if cookie in LANGUAGES:
        return str(cookie)
    return negotiate(accept_language)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Run a block in `language` (its templates and messages)."""
    token = _current.set(language if language in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def set_language(language: str) -> None:
    """Set the language of the running request (the middleware calls it)."""
    _current.set(language if language in LANGUAGES else DEFAULT)
