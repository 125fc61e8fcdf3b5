"""The WADO-RS client simulator: drimlab plays the DRIMBox consumer for a source under test.

`retrieve` runs the retrieval a set of options describes (one exchange per request, or
repeated and concurrent for performance); `run_probes` runs the battery of bad requests. The
pieces live in `retrieval` (requests, one exchange), `consumer_performance` and `probes`; this
module is the entry point the CLI and the scenarios use.
"""

from __future__ import annotations

from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.simulators.consumer_parts import Progress
from drimlab.simulators.consumer_performance import measure
from drimlab.simulators.probes import run_probes
from drimlab.simulators.retrieval import (
    DRIM_M_ACCEPT,
    USER_AGENT,
    ClientTrust,
    Level,
    RetrievalRecord,
    RetrieveOptions,
    RetrieveResult,
    Target,
    client_trust,
    default_token,
    exchange_once,
    keep_folder,
    overall,
    plan_requests,
    resolve_target,
    store_outcome,
)
from drimlab.store import Store


def retrieve(
    store: Store,
    settings: Settings,
    options: RetrieveOptions,
    *,
    progress: Progress | None = None,
) -> RetrieveResult:
    """Run the retrieval the options describe; store and return every exchange and report."""
    if options.repeat < 1 or options.concurrency < 1:
        raise InputError("--repeat and --concurrency must be at least 1")
    target = resolve_target(options)
    requests = plan_requests(
        target, level=options.level, accept=options.accept, token=None, frames=options.frames
    )
    if any(r.scheme == "http" for r in requests) and not options.insecure_http:
        raise InputError(
            "the source URL is plain http://: DRIM-M needs TLS (use --insecure-http to debug)"
        )
    trust = client_trust(store, settings, options)
    token = options.token
    if token is None:
        token = trust.issuer.issue() if trust.issuer is not None else default_token(settings)
    requests = plan_requests(
        target, level=options.level, accept=options.accept, token=token, frames=options.frames
    )
    if options.repeat > 1 or options.concurrency > 1:
        return measure(store, requests, trust, target.kos, options)
    records = []
    for index, request in enumerate(requests):
        outcome = exchange_once(
            request,
            trust,
            kos=target.kos,
            selection=options.chosen,
            keep_dir=keep_folder(options.keep_dir, request, index),
            progress=progress,
            timeout=options.timeout,
        )
        records.append(store_outcome(store, outcome))
    return RetrieveResult(tuple(records), overall(records))


__all__ = [
    "DRIM_M_ACCEPT",
    "USER_AGENT",
    "ClientTrust",
    "Level",
    "RetrievalRecord",
    "RetrieveOptions",
    "RetrieveResult",
    "Target",
    "client_trust",
    "exchange_once",
    "overall",
    "plan_requests",
    "resolve_target",
    "retrieve",
    "run_probes",
    "store_outcome",
]
