"""The probe battery: bad requests a conformant DRIMBox source must refuse correctly.

Each probe of `drimlab.validation.rulesets.probe.EXPECTATIONS` sends one request (as the
client simulator, through the same client and validator as a retrieval), stores the exchange
as evidence, and records its outcome (an HTTP status, a TLS refusal, a dropped connection, or
why it could not be sent) as a `ProbeOutcome`. A bounded burst of concurrent retrievals closes
the battery. The PROBE rules judge the outcomes and `assess` makes ONE report, with a table
of the probes in its facts. What each probe expects and why: docs/probes.md.
"""

from __future__ import annotations

import base64
import ssl
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from drimlab.config import Settings
from drimlab.domain import LOSSLESS_FIRST, LOSSY_FIRST
from drimlab.errors import InputError
from drimlab.exchange import Purpose
from drimlab.facts.probe import ProbeBattery, ProbeOutcome, Transport
from drimlab.facts.tls import TlsFacts
from drimlab.simulators.consumer_http import HttpRequest
from drimlab.simulators.consumer_performance import burst_summary, run_burst
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.retrieval import (
    DRIM_M_ACCEPT,
    FRAMES_ACCEPT,
    LOSSY_FIRST_ACCEPT,
    ClientTrust,
    Outcome,
    RetrieveOptions,
    Target,
    client_trust,
    default_token,
    exchange_once,
    plan_requests,
    resolve_target,
    store_outcome,
)
from drimlab.store import Store
from drimlab.store.records import save_report
from drimlab.tokens import TokenIssuer
from drimlab.trust.tls import client_context
from drimlab.validation.assess import assess
from drimlab.validation.battery import EXPECTATIONS, probe_table
from drimlab.validation.findings import Finding
from drimlab.validation.report import Report
from drimlab.validation.rules import Kind
from drimlab.validation.subjects import TlsSubject

MPEG2 = "1.2.840.10008.1.2.4.100"
IMPLICIT = "1.2.840.10008.1.2"


@dataclass(frozen=True)
class ProbeCase:
    """One probe: its id, the request (None: not applicable, `why_not`), its TLS context."""

    probe: str
    request: HttpRequest | None
    context: ssl.SSLContext | None = None
    why_not: str = ""


@dataclass(frozen=True)
class ProbeContext:
    """What the probes are built from."""

    target: Target
    series_url: str
    token: str
    forged_token: str
    expired_token: str
    trust: ClientTrust
    other_kos_uid: str | None
    other_series_instance: str | None
    known_instance: str | None


def _headers(request: HttpRequest, **changes: str | None) -> HttpRequest:
    """The request with headers replaced (value) or removed (None), order kept."""
    names = {k.lower(): v for k, v in changes.items()}
    kept = []
    for name, value in request.headers:
        key = name.lower().replace("-", "_")
        if key in names:
            new = names.pop(key)
            if new is not None:
                kept.append((name, new))
        else:
            kept.append((name, value))
    return replace(request, headers=tuple(kept))


def _at(request: HttpRequest, url: str) -> HttpRequest:
    host = url.split("://", 1)[1].split("/", 1)[0]
    return replace(
        request,
        url=url,
        headers=tuple((k, host if k.lower() == "host" else v) for k, v in request.headers),
    )


def forge(token: str) -> str:
    """The token with its signature altered (same header and claims): it must not verify."""
    head, claims, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0xFF
    return f"{head}.{claims}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def _bench_env(store: Store, settings: Settings) -> BenchEnvironment:
    return BenchEnvironment.prepare(store, settings, dataset=False)


def _cert_context(store: Store, settings: Settings, options: RetrieveOptions, name: str) -> Any:
    env = _bench_env(store, settings)
    ca = options.ca or env.pki.bundle_path
    return client_context(env.pki.chain_path(name), env.pki.key_path(name), ca)


def _tls11_context(
    base: ssl.SSLContext | None, store: Store, settings: Settings, options: RetrieveOptions
) -> ssl.SSLContext | None:
    env = _bench_env(store, settings)
    cert = options.cert or env.pki.chain_path("consumer")
    key = options.key or env.pki.key_path("consumer")
    context = client_context(cert, key, options.ca or env.pki.bundle_path)
    try:
        # Offering TLS 1.1 on purpose is the probe: silence the deprecation for this context only.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    del base
    return context


def build_cases(
    store: Store, settings: Settings, options: RetrieveOptions, ctx: ProbeContext
) -> list[ProbeCase]:
    """The battery for this target, in the order of `EXPECTATIONS`."""
    t = ctx.target
    good = plan_requests(t, level="series", token=ctx.token)[0]
    series = t.series[0]
    base = t.base_url or ctx.series_url.split("/studies/", 1)[0]
    study_url = f"{base}/studies/{t.study}"
    stamp = int(time.time())

    def only(uid: str) -> str:
        return f'multipart/related; type="application/dicom";transfer-syntax={uid}'

    def accepting(uid: str) -> HttpRequest:
        return _headers(good, accept=only(uid))

    instance = (
        _at(good, f"{ctx.series_url}/instances/{ctx.known_instance}")
        if ctx.known_instance
        else None
    )

    requests: dict[str, HttpRequest | None] = {
        "unknown-study": _at(
            good, f"{base}/studies/2.25.1{series[-8:].replace('.', '')}9/series/{series}"
        ),
        "unknown-series": _at(good, f"{study_url}/series/2.25.{stamp}77"),
        "unknown-instance": _at(good, f"{ctx.series_url}/instances/2.25.{stamp}55"),
        "instance-of-other-series": _at(
            good, f"{ctx.series_url}/instances/{ctx.other_series_instance}"
        )
        if ctx.other_series_instance
        else None,
        "malformed-uid": _at(good, f"{study_url}/series/1.2.03.abc"),
        "overlong-uid": _at(good, f"{study_url}/series/{'1.' * 64}1"),
        "wrong-level": _at(good, f"{base}/studies/{series}/series/{t.study}"),
        "no-accept": _headers(good, accept=None),
        "unsupported-transfer-syntax": accepting(MPEG2),
        "implicit-vr": accepting(IMPLICIT),
        "no-kos-header": _headers(good, kos_sopinstanceuid=None),
        "kos-of-other-exam": _headers(good, kos_sopinstanceuid=ctx.other_kos_uid)
        if ctx.other_kos_uid
        else None,
        "no-token": _headers(good, authorization=None),
        "expired-token": _headers(good, authorization=f"Bearer {ctx.expired_token}"),
        "forged-token": _headers(good, authorization=f"Bearer {ctx.forged_token}"),
        "study-level": _at(good, study_url),
        "instance-level": instance,
        "frames-level": _headers(_at(instance, f"{instance.url}/frames/1"), accept=FRAMES_ACCEPT)
        if instance
        else None,
        "lossless-first": _headers(good, accept=DRIM_M_ACCEPT),
        "lossy-first": _headers(good, accept=LOSSY_FIRST_ACCEPT),
        "lossless-preferred-only": _headers(instance, accept=only(LOSSLESS_FIRST[0][0]))
        if instance
        else None,
        "lossy-preferred-only": _headers(instance, accept=only(LOSSY_FIRST[0][0]))
        if instance
        else None,
    }
    no_instance = "no instance is known: give a KOS that lists the series' instances"
    why_not = {
        "instance-of-other-series": "the KOS lists a single series",
        "kos-of-other-exam": "no KOS of another exam was given (--other-kos-uid)",
        "instance-level": no_instance,
        "frames-level": no_instance,
        "lossless-preferred-only": no_instance,
        "lossy-preferred-only": no_instance,
    }
    cases = [
        ProbeCase(probe, request, why_not=why_not.get(probe, ""))
        for probe, request in requests.items()
    ]
    plain = good.scheme != "https"
    certificates = {
        "expired-client-certificate": "expired",
        "revoked-client-certificate": "revoked",
        "rogue-client-certificate": "rogue",
        "unlisted-client-certificate": "unlisted",
    }
    for probe, cert in certificates.items():
        if plain:
            cases.append(ProbeCase(probe, None, why_not="the source is plain HTTP"))
        else:
            context = _cert_context(store, settings, options, cert)
            cases.append(ProbeCase(probe, good, context=context))
    if plain:
        cases.append(ProbeCase("tls-1-1", None, why_not="the source is plain HTTP"))
    else:
        context = _tls11_context(ctx.trust.context, store, settings, options)
        cases.append(
            ProbeCase(
                "tls-1-1",
                good if context else None,
                context=context,
                why_not="this client's OpenSSL cannot offer TLS 1.1",
            )
        )
    return cases


def _outcome_of(case: ProbeCase, outcome: Outcome, exchange_id: str) -> ProbeOutcome:
    """What the probe's exchange shows: its status, or how the transport ended."""
    exchange = outcome.exchange
    target = exchange.target or ""
    accept = (case.request.header("Accept") if case.request is not None else None) or ""
    if exchange.status is not None:
        return ProbeOutcome(
            case.probe,
            Transport.RESPONSE,
            status=exchange.status,
            target=target,
            part_transfer_syntaxes=tuple(p.transfer_syntax_uid for p in outcome.report.parts),
            exchange_id=exchange_id,
            accept=accept,
        )
    handshake = exchange.tls.handshake if exchange.tls is not None else None
    if handshake is not None:
        return ProbeOutcome(
            case.probe,
            Transport.TLS_REFUSED,
            target=target,
            tls_reason=handshake.reason,
            detail=handshake.message,
            exchange_id=exchange_id,
        )
    return ProbeOutcome(
        case.probe,
        Transport.DROPPED,
        target=target,
        detail=exchange.transport_error or "",
        exchange_id=exchange_id,
    )


def _other_kos(store: Store, study: str) -> str | None:
    from drimlab.datasets.catalog import list_exams  # noqa: PLC0415

    for exam in list_exams(store):
        if exam.study_instance_uid != study and exam.kos is not None:
            return exam.kos.sop_instance_uid
    return None


def run_probes(
    store: Store,
    settings: Settings,
    options: RetrieveOptions,
    *,
    concurrency: int = 8,
    burst: int = 20,
    other_kos_uid: str | None = None,
) -> tuple[str, Report]:
    """Run the battery against the source the options name; store and return ONE report."""
    started = time.time()
    target = resolve_target(options)
    if not target.series:
        raise InputError("the probes need a series: give --series or a KOS")
    token = options.token if options.token is not None else default_token(settings)
    expired = TokenIssuer.open(settings).issue(lifetime=-3600)
    good = plan_requests(target, level="series", accept=options.accept, token=token)[0]
    if good.scheme == "http" and not options.insecure_http:
        raise InputError("the source URL is plain http://: add --insecure-http to probe it")
    trust = client_trust(store, settings, options)
    probe_trust = ClientTrust(trust.context, None, trust_hint=trust.trust_hint)
    kos = target.kos
    other_instance = None
    known_instance = None
    if kos is not None:
        first = kos.series_by_uid(target.series[0])
        known_instance = first.instances[0].sop_instance_uid if first and first.instances else None
        for s in kos.series:
            if s.series_instance_uid != target.series[0] and s.instances:
                other_instance = s.instances[0].sop_instance_uid
                break
    ctx = ProbeContext(
        target=replace(target, series=(target.series[0],), instance=None),
        series_url=good.url,
        token=token,
        forged_token=forge(token),
        expired_token=expired,
        trust=trust,
        other_kos_uid=other_kos_uid or _other_kos(store, target.study),
        other_series_instance=other_instance,
        known_instance=known_instance,
    )
    chosen = options.chosen
    outcomes: list[ProbeOutcome] = []
    connection: TlsFacts | None = None
    for case in build_cases(store, settings, options, ctx):
        if case.request is None:
            outcomes.append(ProbeOutcome(case.probe, Transport.NOT_SENT, detail=case.why_not))
            continue
        label = EXPECTATIONS[case.probe]
        context = case.context if case.context is not None else probe_trust.context
        outcome = exchange_once(
            case.request,
            ClientTrust(context, None, trust_hint=trust.trust_hint),
            kos=None,
            selection=chosen,
            timeout=options.timeout,
            purpose=Purpose.PROBE,
        )
        record = store_outcome(store, outcome, note=f"probe {label.code}: {label.label}")
        outcomes.append(_outcome_of(case, outcome, record.exchange_id))
        if connection is None and case.context is None:
            connection = outcome.exchange.tls  # the battery's own connection to the source
    subjects: list[tuple[Kind, list[object]]] = [
        (Kind.PROBE, list(outcomes)),
        (Kind.BATTERY, [ProbeBattery(tuple(outcomes))]),
    ]
    facts: dict[str, Any] = {"started_at": started}
    if burst > 0:
        bursting = run_burst(good, probe_trust, burst, max(1, concurrency), options.timeout)
        subjects.append((Kind.BURST, [bursting]))
        facts["burst"] = burst_summary(bursting)
        facts["burst_outcome"] = bursting.as_dict()
    if connection is not None:
        subjects.append((Kind.TLS, [TlsSubject(connection, datetime.fromtimestamp(started, UTC))]))
    facts["outcomes"] = [o.as_dict() for o in outcomes]
    frozen = tuple(outcomes)

    def describe(findings: Sequence[Finding]) -> dict[str, Any]:
        return {"probes": probe_table(frozen, findings)}

    report = assess(
        f"probe battery against {good.url}",
        subjects,
        chosen,
        kind="probe",
        facts=facts,
        describe=describe,
    )
    return save_report(store, report, kind="probe"), report


__all__ = ["ProbeCase", "build_cases", "forge", "run_probes"]
