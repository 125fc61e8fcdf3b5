"""A request the simulated source refuses: the HTTP error it answers and the decision it records.

Handlers raise `Refusal(status, cause, detail)`; the source answers the status with a small
JSON body naming the cause (no library internals), and records the `Decision` so the REFUSAL
rules can report it.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from drimlab.facts.decision import Cause, Decision

HSTS = "max-age=63072000; includeSubDomains"


class Refusal(Exception):
    """A request the source refuses; becomes an HTTP error response (not a bench failure)."""

    def __init__(
        self,
        status: int,
        cause: Cause,
        reason: str,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.cause = cause
        self.reason = reason
        self.headers = tuple(headers)

    @property
    def decision(self) -> Decision:
        return Decision(self.status, self.cause, self.reason)


def error_response(refusal: Refusal) -> web.Response:
    """The HTTP answer to a refusal: its status, the cause and the reason as JSON, HSTS."""
    response = web.json_response(
        {"status": refusal.status, "cause": refusal.cause.value, "error": refusal.reason},
        status=refusal.status,
    )
    response.headers["Strict-Transport-Security"] = HSTS
    for name, value in refusal.headers:
        response.headers[name] = value
    return response
