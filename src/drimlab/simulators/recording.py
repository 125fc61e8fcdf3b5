"""Every request the simulated source receives becomes a stored, validated Exchange.

The request is kept exactly as received (raw headers in order), with the TLS peer facts and
timings; the response as the source sent it: status, headers, and a manifest of the parts
(SOP UIDs, sizes, SHA-256) rather than the bytes, which are the catalogue's own files. The
request is validated with the `drim-m` profile (with the KOS it names, when the catalogue has
it). Recording runs in a worker thread after the response is sent, so the database is never
on the path of a retrieval.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from drimlab.documents.kos import read_kos
from drimlab.exchange import Exchange
from drimlab.simulators.faults import ResponsePlan
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.streaming import SendStats
from drimlab.store import Store
from drimlab.store.records import save_exchange, save_report
from drimlab.trust.peer import peer_from_request
from drimlab.validation.engine import validate_request
from drimlab.validation.findings import Finding
from drimlab.validation.report import Report
from drimlab.validation.rulesets.trust import PLAIN_HTTP

#: Rules the server-side certificate check can fire; listed as checked when it ran.
CLIENT_CHECK_RULES = (
    "TLS-001",
    "TLS-002",
    "TLS-003",
    "TLS-004",
    "TLS-005",
    "TLS-006",
    "TLS-008",
    "TLS-010",
    "TLS-011",
    "WL-020",
)


@dataclass(frozen=True)
class Outcome:
    """What the handler knows about a response once it is sent."""

    plan: ResponsePlan | None = None
    stats: SendStats | None = None
    elapsed: float = 0.0
    trust: tuple[Finding, ...] | None = None  # client-certificate check; None: not over TLS


@dataclass(frozen=True)
class Recorded:
    """The identifiers of one recorded exchange and its request report."""

    exchange_id: str
    report_id: str
    report: Report


def _raw_headers(request: web.Request) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)


def part_manifest(plan: ResponsePlan | None) -> list[dict[str, Any]]:
    """What each part of a retrieve response held, for the exchange record."""
    if plan is None:
        return []
    return [
        {
            "index": i,
            "sop_instance_uid": p.sop_instance_uid,
            "transfer_syntax_uid": p.transfer_syntax_uid,
            "size": p.size,
            "sha256": p.sha256,
        }
        for i, p in enumerate(plan.parts)
    ]


class Recorder:
    """Stores and validates the exchanges of one simulator process."""

    def __init__(self, store: Store, index: CatalogIndex, *, insecure_http: bool = False) -> None:
        self.store = store
        self.index = index
        self.insecure_http = insecure_http
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drimlab-record")
        self.recorded: list[Recorded] = []
        self.failures: list[str] = []
        self._changed = threading.Condition()
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, request: web.Request, response: web.StreamResponse, outcome: Outcome) -> None:
        """Record in the background: the response is never held back by the database."""
        task = asyncio.get_running_loop().create_task(self._record(request, response, outcome))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def record_refusal(self, finding: Finding) -> None:
        """Record a refused TLS handshake (no HTTP request ever arrived) as its own exchange."""
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._record_refusal(finding))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record_refusal(self, finding: Finding) -> None:
        exchange = Exchange(origin="server", label=f"TLS handshake refused: {finding.message}")
        report = Report(
            subject=exchange.subject,
            profile="drim-m",
            findings=(finding,),
            rules_checked=(finding.rule,),
            facts={"kind": "handshake"},
        )
        await self._store(exchange, report, [])

    async def _store(
        self, exchange: Exchange, report: Report, manifest: list[dict[str, Any]]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            recorded = await loop.run_in_executor(
                self.executor, self._save, exchange, report, manifest
            )
        except Exception as exc:  # a store failure must not take the simulator down
            with self._changed:
                self.failures.append(f"{exchange.subject}: {exc}")
                self._changed.notify_all()
            return
        with self._changed:
            self.recorded.append(recorded)
            self._changed.notify_all()

    def _save(self, exchange: Exchange, report: Report, manifest: list[dict[str, Any]]) -> Recorded:
        exchange_id = save_exchange(self.store, exchange, parts=manifest)
        kind = str(report.facts.get("kind", "request"))
        report_id = save_report(self.store, report, exchange_id=exchange_id, kind=kind)
        return Recorded(exchange_id, report_id, report)

    async def drain(self) -> None:
        """Wait for every recording in flight (called when the server shuts down)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Block until at least `count` exchanges are recorded (tests, scenarios)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self.recorded) + len(self.failures) >= count, timeout
            )

    async def _record(
        self, request: web.Request, response: web.StreamResponse, outcome: Outcome
    ) -> None:
        plan, stats = outcome.plan, outcome.stats
        peer = peer_from_request(request)
        timings: dict[str, float] = {"total_s": outcome.elapsed}
        if stats is not None:
            timings["bytes_sent"] = float(stats.bytes_sent)
            timings["completed"] = float(stats.completed)
            if stats.time_to_first_byte is not None:
                timings["ttfb_s"] = stats.time_to_first_byte
        exchange = Exchange(
            method=request.method,
            target=request.path_qs,
            request_headers=_raw_headers(request),
            http_version=f"HTTP/{request.version.major}.{request.version.minor}",
            status=response.status,
            reason=response.reason,
            response_headers=tuple(response.headers.items()),
            peer=peer.as_dict() if peer is not None else None,
            timings=timings,
            origin="server",
        )
        report = await asyncio.get_running_loop().run_in_executor(
            self.executor, self._validate, exchange, plan, outcome.trust
        )
        await self._store(exchange, report, part_manifest(plan))

    def _validate(
        self, exchange: Exchange, plan: ResponsePlan | None, trust: Sequence[Finding] | None
    ) -> Report:
        kos_uid = (exchange.request_header("KOS-SOPInstanceUID") or "").strip()
        kos_info = self.index.kos(kos_uid) if kos_uid else None
        kos = read_kos(kos_info.path) if kos_info is not None else None
        report = validate_request(exchange, "drim-m", kos=kos)
        facts = dict(report.facts)
        findings = list(report.findings)
        checked = list(report.rules_checked)
        if self.insecure_http:
            findings.append(
                PLAIN_HTTP.finding("served with --insecure-http: no TLS, no client identity")
            )
            checked.append(PLAIN_HTTP.code)
        if plan is not None and plan.faults:
            facts["faults_injected"] = list(plan.faults)
        if trust is not None:
            findings += trust
            checked += CLIENT_CHECK_RULES
        return replace(report, findings=tuple(findings), rules_checked=tuple(checked), facts=facts)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
