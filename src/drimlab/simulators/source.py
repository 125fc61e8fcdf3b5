"""The WADO-RS server simulator: drimlab plays the DRIMBox source (PS3.18 §10.4).

An aiohttp application (aiohttp exposes the verified TLS peer of each connection, see
docs/trust.md) serving the catalogue's exams: study / series / instance retrieve, their
metadata with BulkDataURIs, bulk data, frames and rendered images. In DRIM-M mode a request
needs `KOS-SOPInstanceUID` (400 when missing, 404 when not a KOS of that study) and a Bearer
token from the configured issuer (401). Every request becomes an Exchange, journaled before
its answer is sent and validated and stored after (see `recording.py`); each answer carries
the exchange's id in `X-Request-ID`. While the store cannot be written, or once the
simulator is stopping, WADO-RS requests are refused with 503 (`store-unavailable`,
`shutting-down`); `/drimlab/status` says which.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from drimlab.datasets.catalog import InstanceInfo
from drimlab.dicomweb import media, multipart, transfer_syntax
from drimlab.dicomweb.paths import Kind, PathError, Resource, parse_target
from drimlab.dicomweb.uids import uid_problem
from drimlab.domain import KOS_HEADER
from drimlab.facts.decision import TOKEN_CAUSES, Cause, Decision
from drimlab.facts.tls import TlsFacts
from drimlab.simulators.faults import (
    Fault,
    FaultRule,
    PartPlan,
    ResponsePlan,
    apply_fault,
)
from drimlab.simulators.headers import text_header
from drimlab.simulators.health import HealthEndpoint, register_health
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.negotiation import negotiate, offers, part_plan
from drimlab.simulators.recording import (
    REQUEST_ID_HEADER,
    REQUEST_ID_KEY,
    RESPONSE_KEY,
    Outcome,
    Recorder,
    exchange_of,
    new_request_id,
    request_exchange,
)
from drimlab.simulators.refusals import HSTS, Refusal, error_response
from drimlab.simulators.rendering import (
    RENDER_SLOTS,
    bulkdata_plan,
    frames_plan,
    rendered_response,
    send_metadata,
)
from drimlab.simulators.streaming import SendStats, stream_plan
from drimlab.tokens import TokenVerifier, parse_authorization
from drimlab.trust.enforce import client_facts, client_refusal
from drimlab.trust.live import LiveTrust, TrustState
from drimlab.trust.peer import address, request_connection
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import Whitelist

LOG = logging.getLogger("drimlab.simulators.source")
STATUS_PATH = "/drimlab/status"


@dataclass(frozen=True)
class SourceConfig:
    """How the simulated source behaves."""

    base_path: str = "/dicom-web"
    drim_mode: bool = True
    verifier: TokenVerifier | None = None
    faults: tuple[FaultRule, ...] = ()
    insecure_http: bool = False
    jwks: dict[str, Any] | None = None
    crl_path: str | None = None
    whitelist: Whitelist | None = None  # fixed trust state (tests); `trust` keeps it current
    revocation: RevocationList | None = None
    trust_hint: str | None = None  # what a consumer must trust to accept the bench
    trust: LiveTrust | None = None  # the whitelist and CRL, reloaded and re-signed as they age


def _not_configured(reason: str) -> web.Response:
    """404 for a bench endpoint that this simulator was started without."""
    response = web.json_response({"status": 404, "error": reason}, status=404)
    response.headers["Strict-Transport-Security"] = HSTS
    return response


def _check_uids(resource: Resource) -> None:
    for label, uid in resource.uids():
        problem = uid_problem(uid)
        if problem is not None:
            raise Refusal(400, Cause.UID_MALFORMED, f"malformed {label} UID {uid!r}: {problem}")


def _resolve(index: CatalogIndex, resource: Resource) -> list[InstanceInfo]:
    """The instances a resource names, in series then instance order; 404 for unknown UIDs."""
    exam = index.exam(resource.study)
    if exam is None:
        raise Refusal(404, Cause.STUDY_UNKNOWN, f"unknown study {resource.study}")
    series_list = index.series_of(resource.study)
    if resource.series is not None:
        series_list = tuple(s for s in series_list if s.series_instance_uid == resource.series)
        if not series_list:
            raise Refusal(
                404,
                Cause.SERIES_UNKNOWN,
                f"unknown series {resource.series} in study {resource.study}",
            )
    instances = [i for s in series_list for i in s.instances]
    if resource.instance is not None:
        instances = [i for i in instances if i.sop_instance_uid == resource.instance]
        if not instances:
            raise Refusal(
                404, Cause.INSTANCE_UNKNOWN, f"unknown instance {resource.instance} in that series"
            )
    return instances


def _check_drim(
    config: SourceConfig, index: CatalogIndex, request: web.Request, study: str
) -> None:
    """DRIM-M gate: a valid bearer token, then a KOS of this very study."""
    if not config.drim_mode:
        return
    token = parse_authorization(text_header(request, "Authorization"))
    if config.verifier is not None:
        check = config.verifier.check(token)
        if not check.ok:
            cause = TOKEN_CAUSES.get(check.code, Cause.TOKEN_MALFORMED)
            if cause is Cause.TOKEN_MISSING:
                raise Refusal(401, cause, check.reason, [("WWW-Authenticate", "Bearer")])
            challenge = f'Bearer error="invalid_token", error_description="{check.reason}"'
            raise Refusal(401, cause, check.reason, [("WWW-Authenticate", challenge)])
    elif token is None:
        raise Refusal(401, Cause.TOKEN_MISSING, "no bearer token", [("WWW-Authenticate", "Bearer")])
    kos_uid = text_header(request, KOS_HEADER)
    if kos_uid is None or not kos_uid.strip():
        raise Refusal(400, Cause.KOS_HEADER_MISSING, f"missing {KOS_HEADER} header")
    kos = index.kos(kos_uid.strip())
    if kos is None:
        raise Refusal(
            404, Cause.KOS_UNKNOWN, f"KOS {kos_uid.strip()[:80]} is not a KOS this source published"
        )
    if kos.study_instance_uid != study:
        raise Refusal(
            404,
            Cause.KOS_OTHER_STUDY,
            f"KOS {kos_uid.strip()} is the manifest of study {kos.study_instance_uid}, "
            f"not of study {study}",
        )


class _Answer:
    """What a handler has answered so far: the response, its plan, what was sent, why."""

    def __init__(self) -> None:
        self.response: web.StreamResponse = web.Response(status=500)
        self.plan: ResponsePlan | None = None
        self.stats: SendStats | None = None
        self.decision = Decision(200, Cause.SERVED)

    def refused(self, refusal: Refusal) -> None:
        self.response = error_response(refusal)
        self.decision = refusal.decision


def _abort_if_started(request: web.Request) -> None:
    """A response already under way cannot become an error: cut the connection instead."""
    transport = request.transport
    if transport is not None and request.writer.output_size > 0:
        transport.abort()


class SourceApp:
    """Handlers of the simulated source, sharing the catalogue index and the recorder."""

    def __init__(
        self, index: CatalogIndex, config: SourceConfig, recorder: Recorder | None
    ) -> None:
        self.index = index
        self.config = config
        self.recorder = recorder
        # metadata, pixel lookups and rendering: off the event loop, a few at a time
        self.work = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drimlab-work")
        self.render_slots = asyncio.Semaphore(RENDER_SLOTS)

    async def _trust_state(self) -> TrustState:
        """The whitelist and CRL now: reloaded (in a worker thread) when their files changed."""
        trust = self.config.trust
        if trust is None:
            return TrustState(self.config.whitelist, self.config.revocation)
        if trust.due():
            return await asyncio.get_running_loop().run_in_executor(self.work, trust.refresh)
        return trust.state

    async def _client_tls(self, request: web.Request) -> tuple[TlsFacts, TrustState]:
        """The facts of the client's connection, with the CRL and whitelist lookups."""
        state = await self._trust_state()
        transport = request.transport
        peer_address = address(transport.get_extra_info("peername")) if transport else None
        facts = client_facts(
            request_connection(request),
            state.whitelist,
            crl=state.revocation,
            at=self.config.trust.clock() if self.config.trust is not None else None,
            peer_address=peer_address,
            trust_hint=self.config.trust_hint,
            accept_stale_crl=state.accept_stale_crl,
        )
        return facts, state

    def _faults_for(self, path: str) -> list[Fault]:
        return [rule.fault for rule in self.config.faults if rule.applies_to(path)]

    def _plan(self, request: web.Request, resource: Resource) -> ResponsePlan:
        instances = _resolve(self.index, resource)
        accept = text_header(request, "Accept")
        uid = negotiate(accept, instances)
        boundary = multipart.new_boundary()
        parts = tuple(part_plan(i, uid) for i in instances)
        plan = ResponsePlan(
            status=200,
            content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
            boundary=boundary,
            parts=parts,
        )
        for fault in self._faults_for(request.path):
            plan = apply_fault(
                plan,
                fault,
                foreign=self._foreign_part(resource, uid),
                unaccepted=self._unaccepted(accept, instances),
            )
        return plan

    def _foreign_part(self, resource: Resource, uid: str) -> PartPlan | None:
        for series in self.index.snapshot.series.values():
            if series.series_instance_uid != resource.series and series.instances:
                candidate = series.instances[0]
                if candidate.sop_instance_uid != resource.instance and candidate.file(uid):
                    return part_plan(candidate, uid)
        return None

    def _unaccepted(
        self, accept: str | None, instances: Sequence[InstanceInfo]
    ) -> tuple[PartPlan, ...] | None:
        allowed = media.accepted_transfer_syntaxes(
            media.parse_accept(accept) if accept is not None else None
        )
        for offer in offers(instances):
            uid = offer.param("transfer-syntax") or transfer_syntax.DEFAULT
            if not allowed.allows(uid):
                return tuple(part_plan(i, uid) for i in instances)
        return None

    async def wado(self, request: web.Request) -> web.StreamResponse:
        """Answer one WADO-RS request and record it, whatever its bytes (never a 500 for them).

        The request is journaled before any byte of the answer is sent; a store that cannot
        be written (or a stop under way) refuses it with 503 instead.
        """
        started = time.perf_counter()
        started_at = time.time()
        tls, trust = await self._client_tls(request)
        answer = _Answer()
        request_id = new_request_id()
        request[REQUEST_ID_KEY] = request_id
        recorder = self.recorder
        try:
            if recorder is not None:
                over = await recorder.quota_refusal(tls)
                if over is not None:
                    raise over
                unable = recorder.open(request_id, request_exchange(request, tls, started_at))
                if unable is not None:
                    raise unable
            await self._answer(request, tls, trust, answer)
        except Refusal as refusal:
            answer.refused(refusal)
        except asyncio.CancelledError:
            # the stop's grace period ran out while answering: what was sent is still evidence
            if recorder is not None:
                elapsed = time.perf_counter() - started
                outcome = Outcome(answer.plan, answer.stats, elapsed, tls, None, started_at)
                recorder.record_cut(request, request.get(RESPONSE_KEY), outcome, request_id)
            raise
        except Exception:
            # a failure of the bench itself: logged with its traceback, recorded, answered 500
            LOG.exception("drimlab: failure answering %s %s", request.method, request.raw_path)
            answer.refused(
                Refusal(500, Cause.INTERNAL_ERROR, "the bench failed while answering this request")
            )
            _abort_if_started(request)
        if not answer.response.prepared:
            answer.response.headers[REQUEST_ID_HEADER] = request_id
        if recorder is not None:
            elapsed = time.perf_counter() - started
            outcome = Outcome(answer.plan, answer.stats, elapsed, tls, answer.decision, started_at)
            recorder.record(request, answer.response, outcome, request_id)
        return answer.response

    async def status(self, request: web.Request) -> web.Response:
        """Whether the simulator can record what it serves (the portal shows it)."""
        if self.recorder is None:
            return _not_configured("this source records nothing")
        return web.json_response(self.recorder.status.as_dict())

    async def _answer(
        self, request: web.Request, tls: TlsFacts, trust: TrustState, answer: _Answer
    ) -> None:
        refusal = client_refusal(tls) if trust.whitelist is not None else None
        if refusal is not None:
            raise Refusal(403, refusal.cause, f"client certificate refused: {refusal.detail}")
        if request.method not in ("GET", "HEAD"):
            raise Refusal(
                405,
                Cause.METHOD_NOT_ALLOWED,
                f"method {request.method[:16]} not allowed",
                [("Allow", "GET, HEAD")],
            )
        try:
            resource = parse_target(request.path_qs)
        except PathError as exc:
            raise Refusal(400, Cause.TARGET_MALFORMED, str(exc)) from None
        _check_uids(resource)
        kos_uid = (text_header(request, KOS_HEADER) or "").strip() or None
        if not self.index.knows(resource.study, kos_uid):
            # an exam imported while we run: reload off the event loop, then look again
            await asyncio.to_thread(self.index.refresh)
        _check_drim(self.config, self.index, request, resource.study)
        instances = _resolve(self.index, resource)
        if resource.kind is Kind.INSTANCES:
            answer.plan = self._plan(request, resource)
            answer.response, answer.stats = await stream_plan(request, answer.plan, hsts=HSTS)
        elif resource.kind is Kind.METADATA:
            answer.response, answer.stats = await send_metadata(
                request, instances, self.config.base_path, self.work
            )
        elif resource.kind in (Kind.BULKDATA, Kind.FRAMES):
            pixels = (
                await bulkdata_plan(instances, self.work)
                if resource.kind is Kind.BULKDATA
                else await frames_plan(resource, instances, self.work)
            )
            answer.response, answer.stats = await stream_plan(request, pixels, hsts=HSTS)
        else:
            answer.response = await rendered_response(
                request, resource, instances, self.work, self.render_slots
            )
        answer.response.headers.setdefault("Strict-Transport-Security", HSTS)
        answer.decision = Decision(answer.response.status, Cause.SERVED)

    async def outside(self, request: web.Request, refusal: Refusal) -> web.StreamResponse:
        """Answer and record a request outside the WADO-RS service (aggregated per address)."""
        response = error_response(refusal)
        if self.recorder is not None:
            tls, _ = await self._client_tls(request)
            outcome = Outcome(tls=tls, decision=refusal.decision)
            self.recorder.record_noise(exchange_of(request, response, outcome))
        return response

    async def jwks(self, request: web.Request) -> web.Response:
        if self.config.jwks is None:
            return _not_configured("no token issuer configured")
        return web.json_response(self.config.jwks)

    async def introspect(self, request: web.Request) -> web.Response:
        """RFC 7662 token introspection, for consumers configured against the bench's issuer."""
        if self.config.verifier is None:
            return _not_configured("no token issuer configured")
        form = await request.post()
        token = form.get("token")
        check = self.config.verifier.check(token if isinstance(token, str) else None)
        return web.json_response(check.introspection())

    async def crl(self, request: web.Request) -> web.StreamResponse:
        if self.config.crl_path is None:
            return _not_configured("no CRL configured")
        return web.FileResponse(
            self.config.crl_path, headers={"Content-Type": "application/pkix-crl"}
        )


SOURCE_KEY = web.AppKey("drimlab.source", SourceApp)


async def _tag_response(request: web.Request, response: web.StreamResponse) -> None:
    """Before its head is sent, an answer gets its exchange's id; the handler keeps it."""
    request_id = request.get(REQUEST_ID_KEY)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
        request[RESPONSE_KEY] = response


TRUST_WATCH_SECONDS = 30.0


async def _watch_trust(handlers: SourceApp) -> None:
    trust = handlers.config.trust
    if trust is None:
        return
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(TRUST_WATCH_SECONDS)
        if trust.due():
            await loop.run_in_executor(handlers.work, trust.refresh)


def make_app(
    index: CatalogIndex, config: SourceConfig, recorder: Recorder | None = None
) -> web.Application:
    """The aiohttp application of the simulated source."""
    handlers = SourceApp(index, config, recorder)
    base = config.base_path.rstrip("/")

    @web.middleware
    async def outside_the_service(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        routing = request.match_info.http_exception
        if routing is None:
            return await handler(request)
        if isinstance(routing, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(routing.allowed_methods))
            refusal = Refusal(
                405,
                Cause.METHOD_NOT_ALLOWED,
                f"method {request.method[:16]} not allowed on {request.path[:200]}",
                [("Allow", allowed)],
            )
        else:
            refusal = Refusal(
                404,
                Cause.OUTSIDE_SERVICE,
                f"{request.path[:200]} is not a resource of this source: WADO-RS is served "
                f"under {base}/studies",
            )
        return await handlers.outside(request, refusal)

    app = web.Application(middlewares=[outside_the_service])
    app.router.add_route("*", base + "/studies/{tail:.*}", handlers.wado)
    health = HealthEndpoint(
        recorder, config.whitelist, config.revocation, config.trust_hint, live=config.trust
    )
    register_health(app, config.base_path, health)
    app.router.add_get("/.well-known/jwks.json", handlers.jwks)
    app.router.add_post("/token/introspect", handlers.introspect)
    app.router.add_get("/pki/crl", handlers.crl)
    app.router.add_get(STATUS_PATH, handlers.status)
    app.on_response_prepare.append(_tag_response)
    app[SOURCE_KEY] = handlers

    async def keep_trust_current(_: web.Application) -> AsyncIterator[None]:
        # re-sign the CRL and announce a stale one even while no request comes
        task = asyncio.get_running_loop().create_task(_watch_trust(handlers))
        yield
        task.cancel()
        handlers.work.shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(keep_trust_current)
    if recorder is not None:

        async def start_recorder(_: web.Application) -> None:
            await recorder.start()

        async def drain_recordings(_: web.Application) -> None:
            await recorder.drain()

        app.on_startup.append(start_recorder)
        # on_cleanup runs once the handlers in flight have finished (on_shutdown runs before)
        app.on_cleanup.append(drain_recordings)
    return app


def with_faults(config: SourceConfig, specs: Sequence[str]) -> SourceConfig:
    """The config with `NAME[:MATCH]` fault specs added (unknown name -> InputError)."""
    return replace(config, faults=(*config.faults, *(FaultRule.parse(s) for s in specs)))
