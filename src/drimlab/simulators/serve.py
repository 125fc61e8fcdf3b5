"""Assembling the server simulator: catalogue index, recorder, trust, listeners, the notice.

`build_source` wires the pieces for one process; `source_in_thread` runs them in the
background (tests, benchmarks, scenarios); `drimlab serve` runs them in the foreground.
Over TLS the source requires a client certificate from the bench's CA bundle, checks it
against the whitelist and the CRL, and records refused handshakes as exchanges. A second,
plain-HTTP listener serves only the CRL and the CA bundle (DRIM-M allows CRL and CA
downloads in clear).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from shlex import quote

from aiohttp import web

from drimlab.domain import KOS_HEADER
from drimlab.simulators.connections import ConnectionGuard, ConnectionPolicy
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT, BenchEnvironment
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.recording import Recorder
from drimlab.simulators.runner import RunningServer, serve_in_thread
from drimlab.simulators.source import STATUS_PATH, SourceConfig, make_app, with_faults
from drimlab.store import Store
from drimlab.store.journal import Journal, journal_dir
from drimlab.tokens import DEFAULT_ISSUER, TokenVerifier
from drimlab.trust.enforce import HandshakeRefusals
from drimlab.trust.live import LiveTrust, StalePolicy
from drimlab.trust.tls import server_context
from drimlab.validation.assess import Selection

LOG = logging.getLogger("drimlab.simulators.serve")


def _log(message: str) -> None:
    LOG.warning("%s", message)


@dataclass(frozen=True)
class SourceOptions:
    """How `drimlab serve` was asked to run."""

    host: str = "127.0.0.1"
    port: int = 8443
    crl_port: int | None = 8080
    insecure_http: bool = False
    drim_mode: bool = True
    faults: tuple[str, ...] = ()
    jwks_path: Path | None = None
    issuer_url: str = DEFAULT_ISSUER
    base_path: str = "/dicom-web"
    selection: Selection | None = None  # how recorded exchanges are judged (drim-m by default)
    connections: ConnectionPolicy = field(default_factory=ConnectionPolicy)
    stale_crl: StalePolicy = (
        StalePolicy.REFUSE
    )  # clients while a CRL the bench cannot sign is stale
    clock: Callable[[], datetime] | None = None  # the time of the trust checks (tests move it)


@dataclass(frozen=True)
class SourceSetup:
    """The assembled simulator, ready to listen."""

    app: web.Application
    ssl_context: ssl.SSLContext | None
    pki_app: web.Application
    recorder: Recorder
    index: CatalogIndex
    env: BenchEnvironment
    options: SourceOptions
    guard: ConnectionGuard


def _pki_app(env: BenchEnvironment, recorder: Recorder) -> web.Application:
    """Plain-HTTP downloads a DRIMBox may fetch in clear: the CRL and the CA bundle; and the
    state of the simulator's store, for the portal (no secret in it)."""

    async def crl(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(env.pki.crl_path, headers={"Content-Type": "application/pkix-crl"})

    async def bundle(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            env.pki.bundle_path, headers={"Content-Type": "application/x-pem-file"}
        )

    async def status(_: web.Request) -> web.Response:
        return web.json_response(recorder.status.as_dict())

    app = web.Application()
    app.router.add_get("/pki/crl", crl)
    app.router.add_get("/pki/ca.pem", bundle)
    app.router.add_get(STATUS_PATH, status)
    return app


def live_trust(
    env: BenchEnvironment, options: SourceOptions, notify: Callable[[str], None] | None
) -> LiveTrust:
    """The bench's whitelist and CRL, watched; the CRL re-signed by the bench's own CA."""
    pki = env.pki

    def resign(at: datetime) -> None:
        pki.refresh_crl(at=at)

    return LiveTrust(
        whitelist_path=env.whitelist_path,
        crl_path=pki.crl_path,
        crl_issuers=[pki.certificate("organisations"), pki.certificate("root")],
        resign=resign,
        stale_policy=options.stale_crl,
        clock=options.clock or (lambda: datetime.now(UTC)),
        notify=notify,
    )


def build_source(
    store: Store,
    env: BenchEnvironment,
    options: SourceOptions,
    *,
    notify: Callable[[str], None] | None = None,
) -> SourceSetup:
    """Wire index, recorder, token verifier, whitelist, CRL and TLS context.

    `notify` receives what the operator must know at once (a whitelist reloaded, a stale CRL,
    a store that cannot be written); by default it is logged.
    """
    notify = notify or _log
    index = CatalogIndex(store)
    journal = Journal(journal_dir(store))
    recorder = Recorder(store, index, selection=options.selection, journal=journal, notify=notify)
    trust_hint = str(env.pki.bundle_path)
    if options.crl_port is not None:
        trust_hint += f", also at http://{options.host}:{options.crl_port}/pki/ca.pem"
    if options.jwks_path is not None:
        verifier = TokenVerifier.from_file(options.jwks_path, issuer=options.issuer_url)
        jwks = None
    else:
        jwks = env.issuer.jwks()
        verifier = TokenVerifier(jwks, issuer=env.issuer.issuer_url)
    config = SourceConfig(
        base_path=options.base_path,
        drim_mode=options.drim_mode,
        verifier=verifier,
        insecure_http=options.insecure_http,
        jwks=jwks,
        trust=None if options.insecure_http else live_trust(env, options, notify),
        trust_hint=trust_hint,
    )
    context = None
    if not options.insecure_http:
        refusals = HandshakeRefusals(sink=recorder.record_refusal, trust_hint=trust_hint)
        context = server_context(
            env.pki.chain_path(SOURCE_CERT),
            env.pki.key_path(SOURCE_CERT),
            env.pki.bundle_path,
            on_failure=refusals.record,
        )
    app = make_app(index, with_faults(config, options.faults), recorder)
    guard = ConnectionGuard(options.connections, sink=recorder.record_noise)
    return SourceSetup(app, context, _pki_app(env, recorder), recorder, index, env, options, guard)


@contextmanager
def source_in_thread(
    store: Store,
    env: BenchEnvironment,
    options: SourceOptions,
    *,
    notify: Callable[[str], None] | None = None,
) -> Iterator[tuple[SourceSetup, RunningServer]]:
    """Run the simulator (and its plain PKI listener when `crl_port` is set) in the background."""
    setup = build_source(store, env, options, notify=notify)
    with ExitStack() as stack:
        # closed last: stopping the server drains the recorder (pending summaries included)
        stack.callback(setup.recorder.close)
        server = stack.enter_context(
            serve_in_thread(
                setup.app,
                host=options.host,
                port=options.port,
                ssl_context=setup.ssl_context,
                guard=setup.guard,
            )
        )
        if options.crl_port is not None:
            stack.enter_context(
                serve_in_thread(setup.pki_app, host=options.host, port=options.crl_port)
            )
        yield setup, server


def notice(setup: SourceSetup, origin: str, drimlab: str = "drimlab") -> str:
    """The interoperability notice a vendor needs to point a consumer at the simulator.

    `drimlab` is how the printed commands call drimlab (an absolute path and `--home`, so they
    work from any directory on the same data home).
    """
    env, options = setup.env, setup.options
    pki = env.pki
    base = f"{origin}{options.base_path}"
    lines = [
        "drimlab server simulator — plays the DRIMBox source"
        + (" (DRIM-M mode)" if options.drim_mode else " (plain DICOMweb mode)"),
        f"  WADO-RS base URL      {base}",
        f"  data home             {env.settings.home}",
    ]
    if options.insecure_http:
        lines.append(
            "  TRANSPORT             plain HTTP (--insecure-http): debugging only, flagged "
            "TLS-013 in every report"
        )
    else:
        lines += [
            f"  CA bundle to trust    {pki.bundle_path}",
            f"  client certificate    {pki.chain_path(CONSUMER_CERT)}",
            f"  client key            {pki.key_path(CONSUMER_CERT)}",
            f"  whitelist (signed)    {env.whitelist_path}",
        ]
        if options.crl_port is not None:
            lines.append(
                f"  CRL (plain HTTP)      http://{options.host}:{options.crl_port}/pki/crl"
            )
    if options.jwks_path is None:
        lines.append(
            f"  token issuer JWKS     {origin}/.well-known/jwks.json  ({drimlab} token issue)"
        )
    else:
        lines.append(f"  token issuer JWKS     {options.jwks_path} (issuer {options.issuer_url})")
    if options.faults:
        lines.append(f"  FAULTS INJECTED       {', '.join(options.faults)}")
    exams = list(setup.index.snapshot.exams.values())
    if exams:
        lines.append("  exams (name, study UID, KOS SOPInstanceUID):")
        for exam in exams:
            kos = exam.kos.sop_instance_uid if exam.kos else "-"
            lines.append(f"    {exam.name:<18} {exam.study_instance_uid}  {kos}")
        first = exams[0]
        series = setup.index.series_of(first.study_instance_uid)[0]
        tls = (
            ""
            if options.insecure_http
            else (
                f"--cacert {quote(str(pki.bundle_path))} "
                f"--cert {quote(str(pki.chain_path(CONSUMER_CERT)))} "
                f"--key {quote(str(pki.key_path(CONSUMER_CERT)))} "
            )
        )
        kos_uid = first.kos.sop_instance_uid if first.kos else ""
        lines += [
            "  example request:",
            f'    curl {tls}-H "Authorization: Bearer $({drimlab} token issue)" '
            f"-H '{KOS_HEADER}: {kos_uid}' "
            "-H 'Accept: multipart/related; type=\"application/dicom\"' "
            f"{base}/studies/{first.study_instance_uid}/series/{series.series_instance_uid}"
            " -o series.multipart",
        ]
    return "\n".join(lines)
