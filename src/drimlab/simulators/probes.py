"""The probe battery: bad requests a conformant DRIMBox source must refuse correctly.

Each probe sends one request (as the client simulator, through the same client and validator
as a retrieval), stores the exchange as evidence, and compares the outcome (an HTTP status,
or a TLS refusal) with what the probe expects. The result is ONE report: an error finding
per probe whose outcome differs (`PROBE-NNN`, naming expected vs actual), a warning for a
tolerated outcome, an info finding for a probe that could not run; a probe that passes is
listed in `rules_checked`. A bounded burst of concurrent retrievals closes the battery with
latency percentiles. Expectations and their references: docs/probes.md.
"""

from __future__ import annotations

import base64
import ssl
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pydicom.uid import ExplicitVRLittleEndian

from drimlab.config import Settings
from drimlab.simulators.consumer import (
    ClientTrust,
    Outcome,
    RetrieveOptions,
    Target,
    _bench_env,
    default_token,
    exchange_once,
    plan_requests,
    resolve_target,
    store_outcome,
)
from drimlab.simulators.consumer_http import HttpRequest
from drimlab.simulators.consumer_performance import run_burst
from drimlab.store import Store
from drimlab.store.records import save_report
from drimlab.trust.tls import client_context
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.report import Report
from drimlab.validation.rules import Rule
from drimlab.validation.rulesets import probe as rules

TLS_REFUSED = "tls-refused"
DROPPED = "dropped"
REFUSAL_STATUSES = frozenset({400, 401, 403})
MPEG2 = "1.2.840.10008.1.2.4.100"
IMPLICIT = "1.2.840.10008.1.2"
Outcome_ = int | str


@dataclass(frozen=True)
class ProbeCase:
    """One probe: its rule, the request (None: not applicable, `why`), what must happen."""

    rule: Rule
    name: str
    request: HttpRequest | None
    expected: frozenset[Outcome_]
    tolerated: frozenset[Outcome_] = frozenset()
    context: ssl.SSLContext | None = None
    why_not: str = ""
    judge_success: Callable[[Report], str | None] | None = field(default=None, compare=False)


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


def _only_default_syntax(report: Report) -> str | None:
    syntaxes = {p.transfer_syntax_uid for p in report.parts}
    if not report.parts:
        return "200 without any part"
    if syntaxes != {ExplicitVRLittleEndian}:
        return f"200 with parts in {', '.join(sorted(s or '?' for s in syntaxes))}"
    return None


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
    """The battery for this target, in the order it runs."""
    t = ctx.target
    good = plan_requests(t, level="series", token=ctx.token)[0]
    series = t.series[0]
    base = t.base_url or ctx.series_url.split("/studies/", 1)[0]
    study_url = f"{base}/studies/{t.study}"
    not_found = frozenset({404})
    bad_request = frozenset({400})
    cases = [
        ProbeCase(
            rules.UNKNOWN_STUDY,
            "unknown study",
            _at(good, f"{base}/studies/2.25.1{series[-8:].replace('.', '')}9/series/{series}"),
            not_found,
        ),
        ProbeCase(
            rules.UNKNOWN_SERIES,
            "unknown series",
            _at(good, f"{study_url}/series/2.25.{int(time.time())}77"),
            not_found,
        ),
        ProbeCase(
            rules.UNKNOWN_INSTANCE,
            "unknown instance",
            _at(good, f"{ctx.series_url}/instances/2.25.{int(time.time())}55"),
            not_found,
        ),
    ]
    if ctx.other_series_instance:
        cases.append(
            ProbeCase(
                rules.FOREIGN_INSTANCE,
                "instance of another series",
                _at(good, f"{ctx.series_url}/instances/{ctx.other_series_instance}"),
                not_found,
            )
        )
    else:
        cases.append(
            ProbeCase(
                rules.FOREIGN_INSTANCE,
                "instance of another series",
                None,
                not_found,
                why_not="the KOS lists a single series",
            )
        )
    cases += [
        ProbeCase(
            rules.MALFORMED_UID,
            "malformed UID",
            _at(good, f"{study_url}/series/1.2.03.abc"),
            bad_request,
        ),
        ProbeCase(
            rules.OVERLONG_UID,
            "over-long UID",
            _at(good, f"{study_url}/series/{'1.' * 64}1"),
            bad_request,
            not_found,
        ),
        ProbeCase(
            rules.WRONG_LEVEL,
            "UIDs at the wrong level",
            _at(good, f"{base}/studies/{series}/series/{t.study}"),
            not_found,
            bad_request,
        ),
        ProbeCase(
            rules.NO_ACCEPT,
            "no Accept header",
            _headers(good, accept=None),
            frozenset({200, 400, 406}),
            judge_success=_only_default_syntax,
        ),
        ProbeCase(
            rules.UNSUPPORTED_SYNTAX,
            "only an unsupported transfer syntax",
            _headers(
                good, accept=f'multipart/related; type="application/dicom";transfer-syntax={MPEG2}'
            ),
            frozenset({406}),
        ),
        ProbeCase(
            rules.IMPLICIT_VR,
            "Implicit VR asked",
            _headers(
                good,
                accept=f'multipart/related; type="application/dicom";transfer-syntax={IMPLICIT}',
            ),
            frozenset({406}),
            bad_request,
        ),
        ProbeCase(
            rules.KOS_MISSING,
            "no KOS-SOPInstanceUID",
            _headers(good, kos_sopinstanceuid=None),
            bad_request,
        ),
    ]
    if ctx.other_kos_uid:
        cases.append(
            ProbeCase(
                rules.KOS_FOREIGN,
                "KOS of another exam",
                _headers(good, kos_sopinstanceuid=ctx.other_kos_uid),
                not_found,
            )
        )
    else:
        cases.append(
            ProbeCase(
                rules.KOS_FOREIGN,
                "KOS of another exam",
                None,
                not_found,
                why_not="no KOS of another exam was given (--other-kos-uid)",
            )
        )
    cases += [
        ProbeCase(
            rules.TOKEN_MISSING, "no token", _headers(good, authorization=None), frozenset({401})
        ),
        ProbeCase(
            rules.TOKEN_EXPIRED,
            "expired token",
            _headers(good, authorization=f"Bearer {ctx.expired_token}"),
            frozenset({401}),
        ),
        ProbeCase(
            rules.TOKEN_FORGED,
            "badly signed token",
            _headers(good, authorization=f"Bearer {ctx.forged_token}"),
            frozenset({401}),
        ),
    ]
    refused: frozenset[Outcome_] = frozenset({TLS_REFUSED, *REFUSAL_STATUSES})
    certificates = (
        (rules.CERT_EXPIRED, "expired client certificate", "expired"),
        (rules.CERT_REVOKED, "revoked client certificate", "revoked"),
        (rules.CERT_ROGUE, "client certificate of a rogue CA", "rogue"),
        (rules.CERT_UNLISTED, "client certificate not whitelisted", "unlisted"),
    )
    plain = good.scheme != "https"
    for rule, name, cert in certificates:
        if plain:
            cases.append(ProbeCase(rule, name, None, refused, why_not="the source is plain HTTP"))
        else:
            context = _cert_context(store, settings, options, cert)
            cases.append(ProbeCase(rule, name, good, refused, context=context))
    if plain:
        cases.append(
            ProbeCase(
                rules.TLS11,
                "TLS 1.1 offered",
                None,
                frozenset({TLS_REFUSED}),
                why_not="the source is plain HTTP",
            )
        )
    else:
        context = _tls11_context(ctx.trust.context, store, settings, options)
        cases.append(
            ProbeCase(
                rules.TLS11,
                "TLS 1.1 offered",
                good if context else None,
                frozenset({TLS_REFUSED}),
                context=context,
                why_not="this client's OpenSSL cannot offer TLS 1.1",
            )
        )
    return cases


def _outcome_of(outcome: Outcome) -> Outcome_:
    if outcome.exchange.status is not None:
        return outcome.exchange.status
    codes = [f.rule for f in outcome.report.findings]
    return TLS_REFUSED if any(c.startswith("TLS-") for c in codes) else DROPPED


def _shown(values: frozenset[Outcome_]) -> str:
    return " or ".join(sorted(str(v) for v in values))


def _judge(case: ProbeCase, outcome: Outcome) -> tuple[Outcome_, Finding | None]:
    actual = _outcome_of(outcome)
    where = Location(path=f"probe: {case.name}")
    expected = _shown(case.expected)
    if actual == TLS_REFUSED and case.rule is rules.TLS11:
        reasons = " ".join(f.actual or "" for f in outcome.report.findings)
        if "NO_PROTOCOLS_AVAILABLE" in reasons:
            return actual, rules.NOT_APPLICABLE.finding(
                f"{case.name}: this client's OpenSSL cannot offer TLS 1.1", where
            )
    if actual in case.expected:
        problem = (
            case.judge_success(outcome.report)
            if (case.judge_success is not None and actual == 200)
            else None
        )
        if problem is None:
            return actual, None
        return actual, case.rule.finding(
            f"{case.name}: {problem}",
            where,
            expected="200 in Explicit VR Little Endian, 400 or 406",
            actual=problem,
        )
    if actual in case.tolerated:
        return actual, case.rule.finding(
            f"{case.name}: answered {actual}, tolerated (expected {expected})",
            where,
            expected=expected,
            actual=str(actual),
            severity=Severity.WARNING,
        )
    return actual, case.rule.finding(
        f"{case.name}: expected {expected}, got {actual}",
        where,
        expected=expected,
        actual=str(actual),
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
    from drimlab.simulators.consumer import client_trust  # noqa: PLC0415

    started = time.time()
    target = resolve_target(options)
    if not target.series:
        from drimlab.errors import InputError  # noqa: PLC0415

        raise InputError("the probes need a series: give --series or a KOS")
    token = options.token if options.token is not None else default_token(settings)
    from drimlab.tokens import TokenIssuer  # noqa: PLC0415

    expired = TokenIssuer.open(settings).issue(lifetime=-3600)
    good = plan_requests(target, level="series", accept=options.accept, token=token)[0]
    if good.scheme == "http" and not options.insecure_http:
        from drimlab.errors import InputError  # noqa: PLC0415

        raise InputError("the source URL is plain http://: add --insecure-http to probe it")
    trust = client_trust(store, settings, options)
    probe_trust = ClientTrust(trust.context, None)
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
    findings: list[Finding] = []
    checked: list[str] = []
    entries: list[dict[str, Any]] = []
    for case in build_cases(store, settings, options, ctx):
        entry: dict[str, Any] = {
            "probe": case.name,
            "rule": case.rule.code,
            "expected": _shown(case.expected),
            "references": list(case.rule.references),
        }
        if case.request is None:
            findings.append(
                rules.NOT_APPLICABLE.finding(
                    f"{case.name}: not applicable ({case.why_not})",
                    Location(path=f"probe: {case.name}"),
                )
            )
            entries.append({**entry, "result": "not applicable", "why": case.why_not})
            continue
        context = case.context if case.context is not None else probe_trust.context
        outcome = exchange_once(
            case.request,
            ClientTrust(context, None),
            kos=None,
            profile=options.profile,
            timeout=options.timeout,
            judge_status=False,
        )
        record = store_outcome(store, outcome, note=f"probe {case.rule.code}: {case.name}")
        actual, finding = _judge(case, outcome)
        if finding is not None and finding.rule == rules.NOT_APPLICABLE.code:
            findings.append(finding)
            entries.append({**entry, "result": "not applicable", "actual": str(actual)})
            continue
        checked.append(case.rule.code)
        if finding is not None:
            findings.append(finding)
        result = "passed" if finding is None else finding.severity.value
        entries.append(
            {**entry, "actual": str(actual), "result": result, "exchange_id": record.exchange_id}
        )
    burst_facts: dict[str, Any] = {}
    if burst > 0:
        burst_facts, more = run_burst(
            good, probe_trust, burst, max(1, concurrency), options.timeout
        )
        findings += more
        checked.append(rules.BURST.code)
    report = Report(
        subject=f"probe battery against {good.url}",
        profile=options.profile,
        findings=tuple(findings),
        rules_checked=tuple(dict.fromkeys(checked)),
        facts={"kind": "probe", "probes": entries, "burst": burst_facts, "started_at": started},
    )
    return save_report(store, report, kind="probe"), report


__all__ = ["ProbeCase", "build_cases", "forge", "run_probes"]
