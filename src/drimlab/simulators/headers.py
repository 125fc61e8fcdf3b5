"""The request headers the simulated source interprets, read from the bytes that were sent.

aiohttp decodes header values as UTF-8 with surrogate escapes, so `Authorization: Bearer
\\xff\\xfe\\x80` reaches a handler as a string that cannot be encoded again: passed on to a JWT
library it raised, and the consumer got a 500. The headers the source acts on (Authorization,
KOS-SOPInstanceUID, Accept) are ASCII by definition (RFC 6750 b64token, a DICOM UID, media
ranges); `text_header` reads the raw bytes and refuses, with the cause that header's rule
reports, a value that is not visible ASCII. Other headers are only recorded, byte for byte.
"""

from __future__ import annotations

from aiohttp import web

from drimlab.facts.credentials import is_credential_header
from drimlab.facts.decision import Cause
from drimlab.simulators.refusals import Refusal

SAMPLE = 80

#: The refusal for a header that is not visible ASCII: status, cause, extra response headers.
REFUSALS: dict[str, tuple[int, Cause, tuple[tuple[str, str], ...]]] = {
    "authorization": (
        401,
        Cause.TOKEN_MALFORMED,
        (("WWW-Authenticate", 'Bearer error="invalid_token"'),),
    ),
    "kos-sopinstanceuid": (404, Cause.KOS_UNKNOWN, ()),
    "accept": (400, Cause.ACCEPT_UNUSABLE, ()),
}


def _visible_ascii(value: bytes) -> bool:
    return all(0x20 <= b < 0x7F or b == 0x09 for b in value)


def _withheld(value: bytes) -> str:
    """A credential's offending bytes only: what is wrong, never the credential."""
    bad = bytes(b for b in value if not (0x20 <= b < 0x7F or b == 0x09))
    return f"{shown(bad)} (the value itself is withheld)"


def shown(value: bytes) -> str:
    """A header value fit for a message: ASCII, escaped, at most `SAMPLE` bytes."""
    text = repr(value[:SAMPLE])[2:-1]
    return text + ("…" if len(value) > SAMPLE else "")


def text_header(request: web.Request, name: str) -> str | None:
    """The first value of header `name` as text (None when absent).

    A value that is not visible ASCII is refused as that header's rule says (`REFUSALS`).
    """
    wanted = name.lower().encode("ascii")
    for key, value in request.raw_headers:
        if key.lower() != wanted:
            continue
        if _visible_ascii(value):
            return value.decode("ascii")
        status, cause, headers = REFUSALS.get(name.lower(), (400, Cause.REQUEST_UNPARSABLE, ()))
        raise Refusal(
            status,
            cause,
            f"the {name} header holds bytes that are not visible ASCII: "
            + (_withheld(value) if is_credential_header(name) else f"'{shown(value)}'"),
            headers,
        )
    return None
