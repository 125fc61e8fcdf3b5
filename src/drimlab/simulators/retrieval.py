"""One retrieval of the client simulator: the requests a DRIM-M consumer sends, and each exchange.

From a KOS (or explicit UIDs) it builds the requests a DRIM-M consumer sends (one per series
by default, the DRIM-M Accept list, a Bearer token, `KOS-SOPInstanceUID`), sends each over
mutual TLS with `consumer_http`, looks the source's host and certificate up in the whitelist,
and validates the response while it streams (`ResponseValidator`, completeness against the
KOS). Parts go to disk as they arrive when `keep_dir` is set. Every exchange (request as sent,
response head, part manifest, TLS facts, timings) and its report are stored as evidence. The
commands are in `consumer` (retrieve), `consumer_performance` (repeat, burst) and `probes`.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from drimlab.config import Settings
from drimlab.dicomweb.multipart import Event
from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.kos import Kos, read_kos
from drimlab.domain import KOS_HEADER, LOSSLESS_FIRST, LOSSY_FIRST
from drimlab.errors import InputError
from drimlab.exchange import Exchange, Purpose
from drimlab.facts.tls import Role, TlsFacts, plain
from drimlab.simulators.consumer_http import HttpRequest, ResponseStream, TransportError
from drimlab.simulators.consumer_http import open_response as open_http
from drimlab.simulators.consumer_parts import PartCounter, PartKeeper, Progress
from drimlab.store import Store
from drimlab.store.records import save_exchange, save_report
from drimlab.trust.enforce import add_server_lookups, failed_handshake
from drimlab.trust.tls import client_context
from drimlab.trust.whitelist import Whitelist, load_whitelist
from drimlab.validation.assess import Selection
from drimlab.validation.engine import ResponseValidator, validate_exchange
from drimlab.validation.report import Report, Verdict
from drimlab.version import __version__

# The Accept list of the ANS sample request (request-series.txt), same media ranges, same
# order and q-values, without its `boundary=**` parameters and trailing comma (docs/consumer.md).
DRIM_M_TRANSFER_SYNTAXES: tuple[tuple[str, str], ...] = LOSSLESS_FIRST


def accept_list(preferences: tuple[tuple[str, str], ...]) -> str:
    """The Accept value of a DICOM retrieve naming each (transfer syntax UID, q) in order."""
    return ",".join(
        f'multipart/related; type="application/dicom";transfer-syntax={uid};q={q}'
        for uid, q in preferences
    )


DRIM_M_ACCEPT = accept_list(LOSSLESS_FIRST)
LOSSY_FIRST_ACCEPT = accept_list(LOSSY_FIRST)
#: The Accept lists a user picks by name (`--accept-list`): the two orders of the ANS dry run.
ACCEPT_LISTS = {"lossless-first": DRIM_M_ACCEPT, "lossy-first": LOSSY_FIRST_ACCEPT}
#: What a frames request asks: uncompressed frames (PS3.18 §8.7.3.3), any syntax else.
FRAMES_ACCEPT = (
    'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1'
)
USER_AGENT = f"drimlab/{__version__} (DRIM-M client simulator)"
Level = Literal["study", "series", "instance", "frames"]


@dataclass(frozen=True)
class RetrieveOptions:
    """What to retrieve, from where, and how to authenticate (defaults: the bench's own)."""

    base_url: str | None = None
    study: str | None = None
    series: tuple[str, ...] = ()
    instance: str | None = None
    kos_path: Path | None = None
    kos_uid: str | None = None
    level: Level = "series"
    frames: tuple[int, ...] = (1,)  # the frame numbers a frames-level retrieval asks
    accept: str | None = None
    token: str | None = None
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    whitelist: Path | None = None
    check_whitelist: bool = True
    insecure_http: bool = False
    keep_dir: Path | None = None
    profile: str = "drim-m"
    selection: Selection | None = None  # profile + --select/--ignore/--severity (wins)
    repeat: int = 1
    concurrency: int = 1
    timeout: float = 60.0

    @property
    def chosen(self) -> Selection:
        """The selection every report of this run is judged with."""
        return self.selection or Selection.of(self.profile)


@dataclass(frozen=True)
class RetrievalRecord:
    """One request sent and its validated response, as stored."""

    exchange_id: str
    report_id: str
    report: Report
    url: str
    status: int | None
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrieveResult:
    """Every retrieval of a run; FAILED when any report failed."""

    records: tuple[RetrievalRecord, ...]
    verdict: Verdict
    performance: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Target:
    """What the options designate: the KOS (if any), its UID, the base URL(s), the UIDs."""

    kos: Kos | None
    kos_uid: str | None
    study: str
    base_url: str
    series: tuple[str, ...]
    instance: str | None


@dataclass(frozen=True)
class ClientTrust:
    """The TLS context to present and the whitelist to check sources against."""

    context: ssl.SSLContext | None
    whitelist: Whitelist | None
    issuer: Any = None  # the bench's token issuer, when the bench environment was opened
    trust_hint: str | None = None  # the CA bundle a source must trust to accept the bench


def _check_uid(label: str, uid: str) -> None:
    problem = uid_problem(uid)
    if problem is not None:
        raise InputError(f"{label} UID {uid!r} is malformed: {problem}")


def resolve_target(options: RetrieveOptions) -> Target:
    """Read the KOS (or the explicit UIDs) and check what the options ask makes sense."""
    kos: Kos | None = None
    if options.kos_path is not None:
        kos = read_kos(options.kos_path)
        if not kos.series:
            raise InputError(f"{options.kos_path}: the KOS references no series")
        study = options.study or kos.study_instance_uid
        # Each series is fetched at its own Retrieve URL unless a base URL overrides them.
        base = (options.base_url or "").rstrip("/")
        kos_uid: str | None = options.kos_uid or kos.sop_instance_uid
        unknown = [s for s in options.series if kos.series_by_uid(s) is None]
        if unknown:
            raise InputError(f"series {unknown[0]} is not referenced by the KOS")
        series = options.series or tuple(s.series_instance_uid for s in kos.series)
    else:
        if not options.base_url or not options.study:
            raise InputError("give --kos FILE, or --base URL and --study UID")
        study, base, kos_uid = options.study, options.base_url.rstrip("/"), options.kos_uid
        series = options.series
    if not base and kos is not None and not all(s.retrieve_url for s in kos.series):
        raise InputError("the KOS has no Retrieve URL: give --base URL")
    if base and not base.startswith(("http://", "https://")):
        raise InputError(f"base URL {base!r} must start with https:// (or http://)")
    if options.instance is not None and len(series) != 1:
        raise InputError("--instance needs exactly one --series")
    for uid in (study, *series, *([options.instance] if options.instance else [])):
        _check_uid("the", uid)
    if kos_uid is not None:
        _check_uid("the KOS SOP Instance", kos_uid)
    return Target(kos, kos_uid, study, base, series, options.instance)


def request_headers(
    host: str, accept: str | None, token: str | None, kos_uid: str | None
) -> tuple[tuple[str, str], ...]:
    """The header block of a DRIM-M retrieve, in the order the client sends it."""
    headers: list[tuple[str, str]] = [("Host", host)]
    if accept is not None:
        headers.append(("Accept", accept))
    if token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    if kos_uid is not None:
        headers.append((KOS_HEADER, kos_uid))
    headers += [("User-Agent", USER_AGENT), ("Connection", "close")]
    return tuple(headers)


def _netloc(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def plan_requests(
    target: Target,
    *,
    level: Level = "series",
    accept: str | None = None,
    token: str | None,
    frames: tuple[int, ...] = (1,),
) -> tuple[HttpRequest, ...]:
    """The requests a DRIM-M consumer sends for the target (one per series at series level).

    At frames level, one request per instance (`.../frames/1,2`) asking uncompressed frames
    (`FRAMES_ACCEPT`) unless `accept` says otherwise.
    """
    if accept is None:
        accept = FRAMES_ACCEPT if level == "frames" else DRIM_M_ACCEPT
    if level == "frames":
        if not frames or any(f < 1 for f in frames):
            raise InputError("frame numbers start at 1")
        suffix = "/frames/" + ",".join(str(f) for f in frames)
        per_instance = plan_requests(target, level="instance", accept=accept, token=token)
        return tuple(replace(r, url=r.url + suffix) for r in per_instance)
    urls: list[str] = []
    kos = target.kos
    if target.instance is not None:
        level = "instance"
    if level == "study":
        bases = [target.base_url] if target.base_url else list(kos.base_urls if kos else ())
        urls = [f"{b}/studies/{target.study}" for b in bases]
    else:
        for series_uid in target.series:
            found = kos.series_by_uid(series_uid) if kos is not None else None
            if found is not None and found.retrieve_url and not target.base_url:
                url = found.retrieve_url.rstrip("/")
            else:
                url = f"{target.base_url}/studies/{target.study}/series/{series_uid}"
            if level == "series":
                urls.append(url)
            elif target.instance is not None:
                urls.append(f"{url}/instances/{target.instance}")
            elif found is not None:
                urls += [f"{url}/instances/{i.sop_instance_uid}" for i in found.instances]
            else:
                raise InputError("instance level needs --instance UID or a KOS listing them")
    if not urls:
        raise InputError("nothing to retrieve: give a series (or a KOS that lists some)")
    return tuple(
        HttpRequest("GET", url, request_headers(_netloc(url), accept, token, target.kos_uid))
        for url in urls
    )


def _bench_env(store: Store, settings: Settings) -> Any:
    from drimlab.simulators.environment import BenchEnvironment  # noqa: PLC0415 - may generate

    return BenchEnvironment.prepare(store, settings, dataset=False)


def client_trust(store: Store, settings: Settings, options: RetrieveOptions) -> ClientTrust:
    """The consumer's TLS context (bench PKI consumer by default) and whitelist."""
    if options.insecure_http:
        return ClientTrust(None, None)
    cert, key, ca, listed = options.cert, options.key, options.ca, options.whitelist
    if (cert is None) != (key is None):
        raise InputError("--cert and --key go together")
    env = None
    if cert is None or ca is None or (listed is None and options.check_whitelist):
        env = _bench_env(store, settings)
        if cert is None:
            cert, key = env.pki.chain_path("consumer"), env.pki.key_path("consumer")
        ca = ca or env.pki.bundle_path
        listed = listed or env.whitelist_path
    assert ca is not None
    context = client_context(cert, key, ca)
    whitelist = load_whitelist(listed) if options.check_whitelist and listed else None
    hint = str(env.pki.bundle_path) if env is not None else None
    return ClientTrust(context, whitelist, env.issuer if env is not None else None, hint)


def default_token(settings: Settings) -> str:
    """A fresh token from the bench's issuer (the PSC stand-in)."""
    from drimlab.tokens import TokenIssuer  # noqa: PLC0415 - only when no token is given

    return TokenIssuer.open(settings).issue()


@dataclass
class Outcome:
    """One exchange as the client saw it, before storing."""

    exchange: Exchange
    report: Report
    kept: dict[int, Path] = field(default_factory=dict)


def connection_facts_of(
    request: HttpRequest, stream: ResponseStream, trust: ClientTrust
) -> TlsFacts:
    """The TLS facts of the connection a response came on, with the source's lookups."""
    if request.scheme != "https" or stream.peer is None:
        return plain(Role.CLIENT, f"{request.host}:{request.port}")
    facts = replace(stream.peer, trust_hint=trust.trust_hint)
    return add_server_lookups(facts, stream.peer_der, request.host, trust.whitelist)


def refused_exchange(
    request: HttpRequest, error: TransportError, trust: ClientTrust, exchange: Exchange
) -> Exchange:
    """The exchange that ended before a response: a TLS refusal, or a dropped connection."""
    where = f"{request.host}:{request.port}"
    if error.tls_error is not None:
        tls = failed_handshake(
            error.tls_error, Role.CLIENT, peer_address=where, trust_hint=trust.trust_hint
        )
        return replace(exchange, tls=tls)
    return replace(exchange, transport_error=f"no HTTP response from {where}: {error}")


def exchange_once(
    request: HttpRequest,
    trust: ClientTrust,
    *,
    kos: Kos | None,
    selection: Selection | str = "drim-m",
    keep_dir: Path | None = None,
    progress: Progress | None = None,
    timeout: float = 60.0,
    purpose: Purpose = Purpose.RETRIEVE,
) -> Outcome:
    """Send one request, validate the response as it streams, return the Exchange and Report."""
    chosen = Selection.of(selection)
    base = Exchange(
        method=request.method,
        target=request.target,
        request_headers=request.headers,
        origin="client",
        label=f"{request.method} {request.url}",
        purpose=purpose,
    )
    started_wall = time.time()
    started = time.perf_counter()
    try:
        stream = open_http(request, trust.context, timeout=timeout)
    except TransportError as error:
        exchange = refused_exchange(
            request, error, trust, replace(base, timings={"started_at": started_wall})
        )
        return Outcome(exchange, validate_exchange(exchange, chosen))
    counter = PartCounter(callback=progress)
    keeper = PartKeeper(keep_dir) if keep_dir is not None else None

    def sink(event: Event) -> None:
        counter.sink(event)
        if keeper is not None:
            keeper(event)

    small_body = bytearray()
    with stream:
        validator = ResponseValidator(base, chosen, kos=kos, part_sink=sink)
        head = stream.head
        validator.feed_headers(
            head.status, head.headers, encoded=stream.encoded, problems=head.problems
        )
        validator.feed(b"")
        keep_body = head.status not in (200, 206)
        for piece in stream.body():
            validator.feed(piece)
            if keep_body and len(small_body) < 1024 * 1024:
                small_body += piece
        finished = time.perf_counter()
        total = finished - started
        timings = {
            "started_at": started_wall,
            "connect": stream.connect_seconds,
            "time_to_first_byte": stream.first_byte_seconds,
            "total": total,
            "body_bytes": float(stream.wire_bytes),
            "throughput_bytes_per_second": stream.wire_bytes / total if total > 0 else 0.0,
        }
        exchange = replace(
            base,
            status=head.status,
            reason=head.reason,
            http_version=head.http_version,
            response_headers=head.headers,
            response_body=bytes(small_body) if keep_body and small_body else None,
            response_body_encoded=stream.encoded and keep_body,
            tls=connection_facts_of(request, stream, trust),
            timings=timings,
            response_problems=head.problems,
            transport_error="; ".join(stream.problems) or None,
        )
        report = validator.close(exchange)
    exchange = replace(exchange, parts=report.parts)
    kept = keeper.finish(report) if keeper is not None else {}
    return Outcome(exchange, report, kept)


def store_outcome(store: Store, outcome: Outcome, *, note: str = "") -> RetrievalRecord:
    """Keep the exchange (with its part manifest) and its report."""
    parts = tuple(
        replace(p, kept_as=str(outcome.kept[p.index])) if p.index in outcome.kept else p
        for p in outcome.exchange.parts
    )
    exchange_id = save_exchange(store, replace(outcome.exchange, parts=parts), note=note)
    report_id = save_report(store, outcome.report, exchange_id=exchange_id, kind="retrieve")
    url = outcome.exchange.label.split(" ", 1)[-1]
    return RetrievalRecord(
        exchange_id,
        report_id,
        outcome.report,
        url,
        outcome.exchange.status,
        dict(outcome.exchange.timings),
    )


def keep_folder(root: Path | None, request: HttpRequest, index: int) -> Path | None:
    if root is None:
        return None
    last = request.target.rstrip("/").rsplit("/", 1)[-1]
    return root / f"{index:03d}-{last}"


def overall(records: list[RetrievalRecord] | tuple[RetrievalRecord, ...]) -> Verdict:
    """FAILED if any report failed, PASSED if all passed, else UNDEFINED."""
    verdicts = [r.report.verdict for r in records]
    if any(v is Verdict.FAILED for v in verdicts):
        return Verdict.FAILED
    if verdicts and all(v is Verdict.PASSED for v in verdicts):
        return Verdict.PASSED
    return Verdict.UNDEFINED
