"""The health check of a DRIMBox source, `GET {base}` with `Accept: application/json`, both ways.

The ANS client simulator checks that a source is up by asking its WADO-RS base (e.g.
`GET https://host/dcm4chee-arc/aets/NAME/rs`). The server simulator answers it
(`HealthEndpoint`: 200 and a small JSON status, recorded like every request); the client
simulator sends it (`check_health`: `drimlab health URL`, and the first step of the source
scenarios), stores the exchange and judges the answer with the HEALTH rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from aiohttp import web

from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.exchange import Exchange, Purpose
from drimlab.facts.decision import Cause, Decision
from drimlab.simulators.consumer_http import HttpRequest, TransportError, open_response
from drimlab.simulators.recording import Outcome, Recorder
from drimlab.simulators.refusals import HSTS, Refusal, error_response
from drimlab.simulators.retrieval import (
    USER_AGENT,
    ClientTrust,
    RetrievalRecord,
    RetrieveOptions,
    client_trust,
    connection_facts_of,
    refused_exchange,
    resolve_target,
    store_outcome,
)
from drimlab.simulators.retrieval import Outcome as ClientOutcome
from drimlab.store import Store
from drimlab.trust.enforce import client_facts, client_refusal
from drimlab.trust.peer import address, request_connection
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import Whitelist
from drimlab.validation.engine import validate_exchange
from drimlab.version import __version__

JSON = "application/json"
#: The most of a health answer the client keeps (a status is a few hundred bytes).
KEEP = 64 * 1024


# -- the server simulator's answer -----------------------------------------------------------


@dataclass(frozen=True)
class HealthEndpoint:
    """`GET {base}` on the simulated source: 200 with a JSON status, recorded and judged."""

    recorder: Recorder | None = None
    whitelist: Whitelist | None = None
    revocation: RevocationList | None = None
    trust_hint: str | None = None

    def status(self) -> dict[str, str]:
        return {
            "status": "UP",
            "service": "drimlab WADO-RS server simulator",
            "version": __version__,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started, started_wall = time.perf_counter(), time.time()
        transport = request.transport
        tls = client_facts(
            request_connection(request),
            self.whitelist,
            crl=self.revocation,
            peer_address=address(transport.get_extra_info("peername")) if transport else None,
            trust_hint=self.trust_hint,
        )
        response: web.StreamResponse
        try:
            refused = client_refusal(tls) if self.whitelist is not None else None
            if refused is not None:
                raise Refusal(403, refused.cause, f"client certificate refused: {refused.detail}")
            if request.method not in ("GET", "HEAD"):
                raise Refusal(
                    405,
                    Cause.METHOD_NOT_ALLOWED,
                    f"method {request.method[:16]} not allowed",
                    [("Allow", "GET, HEAD")],
                )
            response = web.json_response(self.status())
            response.headers["Strict-Transport-Security"] = HSTS
            decision = Decision(200, Cause.SERVED)
        except Refusal as refusal:
            response = error_response(refusal)
            decision = refusal.decision
        if self.recorder is not None:
            elapsed = time.perf_counter() - started
            self.recorder.record(
                request, response, Outcome(None, None, elapsed, tls, decision, started_wall)
            )
        return response


def register_health(app: web.Application, base_path: str, endpoint: HealthEndpoint) -> None:
    """Route `GET {base}` (with or without its trailing slash) to the endpoint."""
    base = base_path.rstrip("/")
    if base:
        app.router.add_route("*", base, endpoint.handle)
    app.router.add_route("*", base + "/", endpoint.handle)


# -- the client simulator's check ------------------------------------------------------------


def health_request(url: str) -> HttpRequest:
    """The health check as the ANS client simulator sends it: GET {base}, Accept JSON."""
    host = urlsplit(url).netloc
    headers = (
        ("Host", host),
        ("Accept", JSON),
        ("User-Agent", USER_AGENT),
        ("Connection", "close"),
    )
    return HttpRequest("GET", url, headers)


def health_url(options: RetrieveOptions) -> str:
    """The base the options name: `--base`, else the base of the KOS's Retrieve URL."""
    if options.base_url:
        return options.base_url.rstrip("/")
    if options.kos_path is None:
        raise InputError("give the source's WADO-RS base URL (or --kos)")
    target = resolve_target(options)
    base = target.kos.base_url if target.kos is not None else ""
    if not base:
        raise InputError(f"{options.kos_path}: the KOS has no Retrieve URL: give the base URL")
    return base


def exchange_health(
    request: HttpRequest, trust: ClientTrust, options: RetrieveOptions
) -> ClientOutcome:
    """Send the health check, read its (small) answer whole, judge it with the HEALTH rules."""
    base = Exchange(
        method=request.method,
        target=request.target,
        request_headers=request.headers,
        origin="client",
        label=f"{request.method} {request.url}",
        purpose=Purpose.HEALTH,
    )
    started_wall, started = time.time(), time.perf_counter()
    kos = resolve_target(options).kos if options.kos_path is not None else None
    try:
        stream = open_response(request, trust.context, timeout=options.timeout)
    except TransportError as error:
        exchange = refused_exchange(
            request, error, trust, replace(base, timings={"started_at": started_wall})
        )
        return ClientOutcome(exchange, validate_exchange(exchange, options.chosen, kos=kos))
    with stream:
        body = bytearray()
        for piece in stream.body():
            if len(body) < KEEP:
                body += piece[: KEEP - len(body)]
        head = stream.head
        exchange = replace(
            base,
            status=head.status,
            reason=head.reason,
            http_version=head.http_version,
            response_headers=head.headers,
            response_body=bytes(body),
            response_body_encoded=stream.encoded,
            tls=connection_facts_of(request, stream, trust),
            timings={
                "started_at": started_wall,
                "connect": stream.connect_seconds,
                "time_to_first_byte": stream.first_byte_seconds,
                "total": time.perf_counter() - started,
            },
            response_problems=head.problems,
            transport_error="; ".join(stream.problems) or None,
        )
    return ClientOutcome(exchange, validate_exchange(exchange, options.chosen, kos=kos))


def check_health(
    store: Store, settings: Settings, options: RetrieveOptions, url: str | None = None
) -> RetrievalRecord:
    """Send the health check to a source (`url`, else the options' base); store and judge it."""
    target = (url or health_url(options)).rstrip("/")
    request = health_request(target)
    if request.scheme == "http" and not options.insecure_http:
        raise InputError(
            f"{target} is plain http://: DRIM-M needs TLS (use --insecure-http to debug)"
        )
    trust = client_trust(store, settings, options)
    return store_outcome(store, exchange_health(request, trust, options), note="health check")


__all__ = [
    "HealthEndpoint",
    "check_health",
    "health_request",
    "health_url",
    "register_health",
]
