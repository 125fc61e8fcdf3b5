"""Every request the simulated source receives becomes a stored, validated Exchange.

The request is kept exactly as received (raw headers in order), with the TLS facts of its
connection, the simulator's decision (what it answered and why) and timings; the response as
the source sent it: status, headers, and a manifest of the parts (SOP UIDs, sizes, SHA-256)
rather than the bytes, which are the catalogue's own files. The exchange is judged by
`validate_exchange` with the simulator's selection (`drim-m` by default, with the KOS it names
when the catalogue has it). A refused handshake is an exchange of its own, with only its TLS
facts. Recording runs in a worker thread after the response is sent, so the database is never
on the path of a retrieval.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from aiohttp import web

from drimlab.documents.kos import read_kos
from drimlab.domain import KOS_HEADER
from drimlab.exchange import Exchange, PartRecord
from drimlab.facts.decision import Decision
from drimlab.facts.tls import TlsFacts
from drimlab.simulators.faults import ResponsePlan
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.noise import NoiseAggregator
from drimlab.simulators.streaming import SendStats
from drimlab.store import Store
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange
from drimlab.validation.report import Report


@dataclass(frozen=True)
class Outcome:
    """What the handler knows about a response once it is sent."""

    plan: ResponsePlan | None = None
    stats: SendStats | None = None
    elapsed: float = 0.0
    tls: TlsFacts | None = None
    decision: Decision | None = None
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Recorded:
    """The identifiers of one recorded exchange and its request report."""

    exchange_id: str
    report_id: str
    report: Report


def _raw_headers(request: web.Request) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)


def part_manifest(plan: ResponsePlan | None) -> tuple[PartRecord, ...]:
    """What each part of a retrieve response held, for the exchange record."""
    if plan is None:
        return ()
    return tuple(
        PartRecord(
            index=i,
            size=p.size,
            sha256=p.sha256,
            sop_instance_uid=p.sop_instance_uid,
            transfer_syntax_uid=p.transfer_syntax_uid,
        )
        for i, p in enumerate(plan.parts)
    )


def exchange_of(request: web.Request, response: web.StreamResponse, outcome: Outcome) -> Exchange:
    """The Exchange of one request the source answered: as received, as answered, its facts."""
    plan, stats = outcome.plan, outcome.stats
    timings: dict[str, float] = {"started_at": outcome.started_at, "total_s": outcome.elapsed}
    if stats is not None:
        timings["bytes_sent"] = float(stats.bytes_sent)
        timings["completed"] = float(stats.completed)
        if stats.time_to_first_byte is not None:
            timings["ttfb_s"] = stats.time_to_first_byte
    decision = outcome.decision
    if decision is not None and plan is not None and plan.faults:
        decision = replace(decision, faults=tuple(plan.faults))
    return Exchange(
        method=request.method,
        target=request.raw_path,
        request_headers=_raw_headers(request),
        http_version=f"HTTP/{request.version.major}.{request.version.minor}",
        status=response.status,
        reason=response.reason,
        response_headers=tuple(response.headers.items()),
        tls=outcome.tls,
        timings=timings,
        origin="server",
        decision=decision,
        parts=part_manifest(plan),
    )


class Recorder:
    """Stores and validates the exchanges of one simulator process."""

    def __init__(
        self, store: Store, index: CatalogIndex, *, selection: Selection | None = None
    ) -> None:
        self.store = store
        self.index = index
        self.selection = selection or Selection.of("drim-m")
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drimlab-record")
        self.recorded: list[Recorded] = []
        self.failures: list[str] = []
        self._changed = threading.Condition()
        self._pending: set[asyncio.Task[None]] = set()
        self.noise = NoiseAggregator(self.submit)
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background work (summaries of aggregated noise); the app calls it."""
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.noise.tick()

    def record(self, request: web.Request, response: web.StreamResponse, outcome: Outcome) -> None:
        """Record in the background: the response is never held back by the database."""
        self.submit(exchange_of(request, response, outcome))

    def submit(self, exchange: Exchange) -> None:
        """Judge and store an exchange in the background (call from the event loop)."""
        task = asyncio.get_running_loop().create_task(self._judge_and_store(exchange))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def record_noise(self, exchange: Exchange) -> None:
        """Record a rejection outside the WADO-RS service, aggregating repeats per address."""
        tls = exchange.tls
        host = (tls.peer_address or "?").rsplit(":", 1)[0] if tls is not None else "?"
        cause = exchange.decision.cause.value if exchange.decision is not None else ""
        self.noise.add((host, cause), exchange)

    def record_refusal(self, facts: TlsFacts) -> None:
        """Record a refused TLS handshake (no HTTP request ever arrived) as its own exchange.

        Called from the event loop's thread, inside the TLS handshake.
        """
        handshake = facts.handshake
        what = handshake.message if handshake is not None else "refused"
        self.submit(
            Exchange(
                origin="server",
                tls=facts,
                label=f"TLS handshake refused: {what}",
                timings={"started_at": time.time()},
            )
        )

    async def _judge_and_store(self, exchange: Exchange) -> None:
        report = await asyncio.get_running_loop().run_in_executor(
            self.executor, self._judge, exchange
        )
        await self._store(exchange, report)

    async def _store(self, exchange: Exchange, report: Report) -> None:
        loop = asyncio.get_running_loop()
        try:
            recorded = await loop.run_in_executor(self.executor, self._save, exchange, report)
        except Exception as exc:  # a store failure must not take the simulator down
            with self._changed:
                self.failures.append(f"{exchange.subject}: {exc}")
                self._changed.notify_all()
            return
        with self._changed:
            self.recorded.append(recorded)
            self._changed.notify_all()

    def _save(self, exchange: Exchange, report: Report) -> Recorded:
        exchange_id = save_exchange(self.store, exchange)
        kind = str(report.facts.get("kind", "request"))
        report_id = save_report(self.store, report, exchange_id=exchange_id, kind=kind)
        return Recorded(exchange_id, report_id, report)

    async def drain(self) -> None:
        """Wait for every recording in flight (called when the server shuts down)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.noise.flush()
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Block until at least `count` exchanges are recorded (tests, scenarios)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self.recorded) + len(self.failures) >= count, timeout
            )

    def _judge(self, exchange: Exchange) -> Report:
        kos_uid = (exchange.request_header(KOS_HEADER) or "").strip()
        kos_info = self.index.kos(kos_uid) if kos_uid else None
        kos = read_kos(kos_info.path) if kos_info is not None else None
        return validate_exchange(exchange, self.selection, kos=kos)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
