"""The health check: `GET {base}` with `Accept: application/json`, not a retrieve.

The ANS client simulator checks a source is up by asking its WADO-RS base (everything before
`/studies`), e.g. `GET https://host/dcm4chee-arc/aets/NAME/rs` with `accept: application/json`.
Such a request has no `/studies` segment, so the retrieve rules would judge it a malformed
target; it is a transaction of its own, judged by the HEALTH rules. A request is a health check
when its target has no `/studies` segment and either its Accept asks for `application/json`
or, with a KOS given, its target is the base of the KOS Retrieve URL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from drimlab.dicomweb.http import RawHeaders, header_value
from drimlab.dicomweb.http1 import ChunkedDecoder
from drimlab.dicomweb.media import Accept, parse_accept
from drimlab.dicomweb.paths import PathError, parse_target
from drimlab.documents.kos import Kos
from drimlab.exchange import Exchange, iter_body

#: The most of a health answer's body kept to judge it (it is a small JSON status).
BODY_LIMIT = 64 * 1024
JSON = "application/json"


def _path(target: str) -> str:
    return urlsplit(target.strip()).path.rstrip("/")


def is_health_check(exchange: Exchange, kos: Kos | None = None) -> bool:
    """True when the exchange's request is a health check (see the module docstring)."""
    if not exchange.has_request:
        return False
    target = exchange.target or ""
    try:
        parse_target(target)
        return False
    except PathError:
        pass
    if "/studies" in _path(target).split("/"):  # a malformed retrieve, not a health check
        return False
    values = exchange.request_header_values("Accept")
    accept = parse_accept(values) if values else None
    if accept is not None and any(r.matches(JSON) and r.q > 0 for r in accept.ranges):
        return True
    return kos is not None and bool(kos.base_url) and _path(target) == _path(kos.base_url)


@dataclass(frozen=True)
class HealthSubject:
    """A health check: the request, and the answer when there is one (its body bounded)."""

    method: str
    target: str
    request_headers: RawHeaders
    accept: Accept | None
    has_request_body: bool
    kos: Kos | None
    status: int | None
    response_headers: RawHeaders
    body: bytes | None  # the first BODY_LIMIT bytes of the answer (None: not captured)
    body_complete: bool

    def response_header(self, name: str) -> str | None:
        return header_value(self.response_headers, name)

    @property
    def json_body(self) -> object | None:
        """The answer's body as JSON, or None when it is absent, cut or not JSON."""
        if self.body is None or not self.body_complete:
            return None
        try:
            parsed: object = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return parsed


def health_subject(exchange: Exchange, kos: Kos | None = None) -> HealthSubject:
    """The health check an exchange holds, its answer's body read up to BODY_LIMIT."""
    body: bytes | None = None
    complete = True
    if exchange.response_body is not None:
        dechunker = ChunkedDecoder() if exchange.response_body_encoded else None
        kept = bytearray()
        for chunk in iter_body(exchange.response_body, chunk_size=BODY_LIMIT):
            kept += dechunker.feed(chunk) if dechunker is not None else chunk
            if len(kept) > BODY_LIMIT:
                complete = False
                break
        if dechunker is not None and complete:
            kept += dechunker.close()
            complete = not dechunker.problems
        body = bytes(kept[:BODY_LIMIT])
    values = exchange.request_header_values("Accept")
    return HealthSubject(
        method=exchange.method or "",
        target=exchange.target or "",
        request_headers=exchange.request_headers,
        accept=parse_accept(values) if values else None,
        has_request_body=exchange.request_body is not None,
        kos=kos,
        status=exchange.status,
        response_headers=exchange.response_headers,
        body=body,
        body_complete=complete,
    )


__all__ = ["BODY_LIMIT", "HealthSubject", "health_subject", "is_health_check"]
