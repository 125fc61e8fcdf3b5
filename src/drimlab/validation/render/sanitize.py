"""Make untrusted text safe for a terminal, an XML document or an HTML page.

A finding's message, expected and actual values may quote a hostile message verbatim:
control characters could drive a terminal, and characters that XML 1.0 forbids would
make a JUnit or Gazelle report unreadable. They are shown as visible escapes instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL: a terminal may act on them; lone surrogates (the escapes of
# undecodable bytes) cannot be written to a UTF-8 terminal at all.
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Everything XML 1.0 does not allow in character data (§2.2 Char), plus C1 controls.
_XML_UNSAFE = re.compile(r"[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """Text for one terminal line: every control character (newline included) escaped."""
    return _TERMINAL_UNSAFE.sub(_escape, text)


def json_text(text: str) -> str:
    """JSON text with lone surrogates written as `\\uXXXX` escapes (valid JSON, and UTF-8)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def xml_text(text: str) -> str:
    """Text XML 1.0 accepts: forbidden characters escaped; tabs and newlines kept."""
    return _XML_UNSAFE.sub(_escape, text)
