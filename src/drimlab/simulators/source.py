"""The WADO-RS server simulator: drimlab plays the DRIMBox source (PS3.18 §10.4).

An aiohttp application (aiohttp exposes the verified TLS peer of each connection, see
docs/trust.md) serving the catalogue's exams: study / series / instance retrieve, their
metadata with BulkDataURIs, bulk data, frames and rendered images. In DRIM-M mode a request
needs `KOS-SOPInstanceUID` (400 when missing, 404 when not a KOS of that study) and a Bearer
token from the configured issuer (401). Every request becomes an Exchange that is validated
and stored after the response is sent (see `recording.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
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
from drimlab.simulators.health import HealthEndpoint, register_health
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.recording import Outcome, Recorder
from drimlab.simulators.refusals import HSTS, Refusal, error_response
from drimlab.simulators.rendering import frames_response, metadata_response, rendered_response
from drimlab.simulators.streaming import SendStats, stream_plan
from drimlab.tokens import TokenVerifier, parse_authorization
from drimlab.trust.enforce import client_facts, client_refusal
from drimlab.trust.peer import address, request_connection
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import Whitelist


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
    whitelist: Whitelist | None = None
    revocation: RevocationList | None = None
    trust_hint: str | None = None  # what a consumer must trust to accept the bench


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
    token = parse_authorization(request.headers.get("Authorization"))
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
    kos_uid = request.headers.get(KOS_HEADER)
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


def _offers(instances: Sequence[InstanceInfo]) -> list[media.MediaType]:
    """One multipart DICOM offer per transfer syntax every instance is stored in (EVRLE first)."""
    common = set(instances[0].transfer_syntaxes) if instances else set()
    for instance in instances[1:]:
        common &= set(instance.transfer_syntaxes)
    ordered = sorted(common, key=lambda uid: (uid != transfer_syntax.DEFAULT, uid))
    return [
        media.parse_media_type(
            f'multipart/related; type="application/dicom"; transfer-syntax={uid}'
        )
        for uid in ordered
    ]


def _part(instance: InstanceInfo, uid: str) -> PartPlan:
    stored = instance.file(uid)
    assert stored is not None  # offers only name syntaxes every instance has
    return PartPlan(
        headers=(("Content-Type", f"application/dicom; transfer-syntax={uid}"),),
        size=stored.size,
        sop_instance_uid=instance.sop_instance_uid,
        transfer_syntax_uid=uid,
        sha256=stored.sha256,
        path=stored.path,
    )


def negotiate(accept: str | None, instances: Sequence[InstanceInfo]) -> str:
    """The transfer syntax to send (PS3.18 §8.7): the client's best among stored encodings."""
    offers = _offers(instances)
    parsed = media.parse_accept(accept) if accept is not None else None
    if parsed is not None and not parsed.ranges:
        raise Refusal(400, Cause.ACCEPT_UNUSABLE, "Accept header has no usable media range")
    chosen = media.choose(parsed, offers)
    if chosen is None:
        stored = ", ".join(o.param("transfer-syntax") or "?" for o in offers)
        raise Refusal(
            406,
            Cause.NOT_ACCEPTABLE,
            f"no acceptable DICOM media type: the instances are stored in {stored}",
        )
    uid = chosen.param("transfer-syntax")
    return uid or transfer_syntax.DEFAULT


class SourceApp:
    """Handlers of the simulated source, sharing the catalogue index and the recorder."""

    def __init__(
        self, index: CatalogIndex, config: SourceConfig, recorder: Recorder | None
    ) -> None:
        self.index = index
        self.config = config
        self.recorder = recorder

    def _client_tls(self, request: web.Request) -> TlsFacts:
        """The facts of the client's connection, with the CRL and whitelist lookups."""
        transport = request.transport
        peer_address = address(transport.get_extra_info("peername")) if transport else None
        return client_facts(
            request_connection(request),
            self.config.whitelist,
            crl=self.config.revocation,
            peer_address=peer_address,
            trust_hint=self.config.trust_hint,
        )

    def _faults_for(self, path: str) -> list[Fault]:
        return [rule.fault for rule in self.config.faults if rule.applies_to(path)]

    def _plan(self, request: web.Request, resource: Resource) -> ResponsePlan:
        instances = _resolve(self.index, resource)
        uid = negotiate(request.headers.get("Accept"), instances)
        boundary = multipart.new_boundary()
        parts = tuple(_part(i, uid) for i in instances)
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
                unaccepted=self._unaccepted(request.headers.get("Accept"), instances),
            )
        return plan

    def _foreign_part(self, resource: Resource, uid: str) -> PartPlan | None:
        for series in self.index.snapshot.series.values():
            if series.series_instance_uid != resource.series and series.instances:
                candidate = series.instances[0]
                if candidate.sop_instance_uid != resource.instance and candidate.file(uid):
                    return _part(candidate, uid)
        return None

    def _unaccepted(
        self, accept: str | None, instances: Sequence[InstanceInfo]
    ) -> tuple[PartPlan, ...] | None:
        allowed = media.accepted_transfer_syntaxes(
            media.parse_accept(accept) if accept is not None else None
        )
        for offer in _offers(instances):
            uid = offer.param("transfer-syntax") or transfer_syntax.DEFAULT
            if not allowed.allows(uid):
                return tuple(_part(i, uid) for i in instances)
        return None

    async def wado(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        started_wall = time.time()
        target = request.path_qs
        response: web.StreamResponse
        plan: ResponsePlan | None = None
        stats: SendStats | None = None
        tls = self._client_tls(request)
        decision = Decision(200, Cause.SERVED)
        try:
            refusal = client_refusal(tls) if self.config.whitelist is not None else None
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
                resource = parse_target(target)
            except PathError as exc:
                raise Refusal(400, Cause.TARGET_MALFORMED, str(exc)) from None
            _check_uids(resource)
            kos_uid = (request.headers.get(KOS_HEADER) or "").strip() or None
            if not self.index.knows(resource.study, kos_uid):
                # an exam imported while we run: reload off the event loop, then look again
                await asyncio.to_thread(self.index.refresh)
            _check_drim(self.config, self.index, request, resource.study)
            if resource.kind is Kind.INSTANCES:
                plan = self._plan(request, resource)
                response, stats = await stream_plan(request, plan, hsts=HSTS)
            elif resource.kind in (Kind.METADATA, Kind.BULKDATA):
                instances = _resolve(self.index, resource)
                response = metadata_response(request, resource, instances, self.config.base_path)
            elif resource.kind is Kind.FRAMES:
                response = frames_response(request, resource, _resolve(self.index, resource))
            else:
                response = rendered_response(request, resource, _resolve(self.index, resource))
            response.headers.setdefault("Strict-Transport-Security", HSTS)
            decision = Decision(response.status, Cause.SERVED)
        except Refusal as refusal:
            response = error_response(refusal)
            decision = refusal.decision
        if self.recorder is not None:
            elapsed = time.perf_counter() - started
            outcome = Outcome(plan, stats, elapsed, tls, decision, started_wall)
            self.recorder.record(request, response, outcome)
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


def make_app(
    index: CatalogIndex, config: SourceConfig, recorder: Recorder | None = None
) -> web.Application:
    """The aiohttp application of the simulated source."""
    handlers = SourceApp(index, config, recorder)
    app = web.Application()
    base = config.base_path.rstrip("/")
    app.router.add_route("*", base + "/studies/{tail:.*}", handlers.wado)
    health = HealthEndpoint(recorder, config.whitelist, config.revocation, config.trust_hint)
    register_health(app, config.base_path, health)
    app.router.add_get("/.well-known/jwks.json", handlers.jwks)
    app.router.add_post("/token/introspect", handlers.introspect)
    app.router.add_get("/pki/crl", handlers.crl)
    app[SOURCE_KEY] = handlers
    if recorder is not None:

        async def drain_recordings(_: web.Application) -> None:
            await recorder.drain()

        app.on_shutdown.append(drain_recordings)
    return app


def with_faults(config: SourceConfig, specs: Sequence[str]) -> SourceConfig:
    """The config with `NAME[:MATCH]` fault specs added (unknown name -> InputError)."""
    return replace(config, faults=(*config.faults, *(FaultRule.parse(s) for s in specs)))
