"""Every request the simulated source receives becomes a stored, validated Exchange.

The request is kept exactly as received (raw headers in order), with the TLS facts of its
connection, the simulator's decision (what it answered and why) and timings; the response as
the source sent it: status, headers, and a manifest of the parts (SOP UIDs, sizes, SHA-256)
rather than the bytes, which are the catalogue's own files. The exchange is judged by
`validate_exchange` with the simulator's selection (`drim-m` by default, with the KOS it names
when the catalogue has it). A refused handshake is an exchange of its own, with only its TLS
facts. Storing runs in a worker thread after the response is sent, so the database is never
on the path of a retrieval; what is not stored yet is in the process's journal
(`store/journal.py`): each request is journaled (`begin`) before its answer is sent and
completed (`end`) once it is, so a stop of any kind loses nothing that was served.

When the journal or the store cannot be written (a full disk, a database that is down), the
recorder says so at once through `notify`, holds what it could not store, and the source
refuses new requests with 503 (`store-unavailable`) until a write succeeds again (tried every
second). `drain` bounds the time a stop waits for the records in flight; what is left stays in
the journal, for the next start (or `drimlab exchanges recover`) to store.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from aiohttp import web

from drimlab.documents.kos import read_kos
from drimlab.domain import KOS_HEADER
from drimlab.exchange import Exchange, PartRecord
from drimlab.facts.decision import Cause, Decision
from drimlab.facts.store import StoreStatus
from drimlab.facts.tls import TlsFacts
from drimlab.simulators.faults import ResponsePlan
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.noise import NoiseAggregator
from drimlab.simulators.quota_gate import QuotaGate
from drimlab.simulators.refusals import Refusal
from drimlab.simulators.streaming import SendStats
from drimlab.store import Store
from drimlab.store.journal import Journal, JournalError
from drimlab.store.records import save_exchange_and_report
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange
from drimlab.validation.report import Report

REQUEST_ID_HEADER = "X-Request-ID"  # the id of the exchange in the store, sent with each answer
REQUEST_ID_KEY = web.RequestKey("drimlab.request_id", str)  # a request's id, for its answer
RESPONSE_KEY = web.RequestKey("drimlab.response", web.StreamResponse)  # its answer, once begun
RETRY_SECONDS = 1.0  # how often an unwritable store is tried again
DRAIN_SECONDS = 20.0  # how long a stop waits for the records in flight
MAX_HELD = 10_000  # exchanges held in memory while the store cannot be written
REFUSAL_RETRY_AFTER = "5"  # seconds a consumer refused with 503 is asked to wait


def new_request_id() -> str:
    """A fresh id for a request: its journal entry, its stored exchange, its X-Request-ID."""
    return str(uuid.uuid4())


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


def request_exchange(request: web.Request, tls: TlsFacts | None, started_at: float) -> Exchange:
    """A request as received, before any answer: what the journal's `begin` holds."""
    return Exchange(
        method=request.method,
        target=request.raw_path,
        request_headers=_raw_headers(request),
        http_version=f"HTTP/{request.version.major}.{request.version.minor}",
        tls=tls,
        timings={"started_at": started_at},
        origin="server",
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
    """Journals, judges and stores the exchanges of one simulator process."""

    def __init__(
        self,
        store: Store,
        index: CatalogIndex,
        *,
        selection: Selection | None = None,
        journal: Journal | None = None,
        notify: Callable[[str], None] | None = None,
        drain_seconds: float = DRAIN_SECONDS,
    ) -> None:
        self.store = store
        self.index = index
        self.selection = selection or Selection.of("drim-m")
        self.journal = journal
        self.notify = notify or (lambda _message: None)
        self.drain_seconds = drain_seconds
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="drimlab-record")
        self.recorded: list[Recorded] = []
        self.failures: list[str] = []
        self.stopping = False
        self._changed = threading.Condition()
        self._pending: set[asyncio.Task[None]] = set()
        self._held: deque[tuple[str, Exchange, Report]] = deque()
        self._writable = True
        self._reason = ""
        self._since = time.time()
        self.noise = NoiseAggregator(self.submit)
        self.quotas = QuotaGate(store)
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background work (noise summaries, journal sync, store retries)."""
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            self.noise.tick()
            if self.journal is not None:
                await loop.run_in_executor(self.executor, self.journal.sync)
            if not self._writable:
                await self._try_again()

    # -- the state of the store ----------------------------------------------------------------

    @property
    def status(self) -> StoreStatus:
        """What the portal and `/drimlab/status` show."""
        return StoreStatus(
            writable=self._writable,
            reason=self._reason,
            since=self._since,
            journaled=self.journal.pending if self.journal is not None else 0,
            held=len(self._held),
            recorded=len(self.recorded),
            unrecorded=len(self.failures),
            stopping=self.stopping,
        )

    def _unwritable(self, reason: str) -> None:
        if self._writable:
            self._writable, self._reason, self._since = False, reason, time.time()
            self.notify(
                f"drimlab: the store cannot be written ({reason}): new requests are refused "
                f"with 503 until it can; tried again every {RETRY_SECONDS:g} s"
            )
        else:
            self._reason = reason

    def _writable_again(self) -> None:
        if not self._writable:
            down = time.time() - self._since
            self._writable, self._reason, self._since = True, "", time.time()
            self.notify(
                f"drimlab: the store can be written again after {down:.0f} s: serving; "
                "what was held is stored"
            )

    async def _try_again(self) -> None:
        """Probe the journal and store what was held; writable again once all of it is in."""
        loop = asyncio.get_running_loop()
        try:
            if self.journal is not None:
                await loop.run_in_executor(self.executor, self.journal.probe)
            while self._held:
                exchange_id, exchange, report = self._held[0]
                await loop.run_in_executor(self.executor, self._save, exchange_id, exchange, report)
                self._held.popleft()
        except Exception as exc:  # still unwritable: keep refusing
            self._reason = _reason(exc)
            return
        self._writable_again()

    # -- one request ---------------------------------------------------------------------------

    async def quota_refusal(self, tls: TlsFacts | None) -> Refusal | None:
        """The 503 to answer when the client certificate's organisation has reached its
        storage quota (asked before the request is journaled: nothing of it is stored but
        the aggregated refusal)."""
        return await self.quotas.refusal(tls.peer if tls is not None else None)

    def open(self, request_id: str, exchange: Exchange) -> Refusal | None:
        """Journal a request before it is answered; the refusal to answer when it cannot be."""
        if self.stopping:
            return Refusal(
                503,
                Cause.SHUTTING_DOWN,
                "the server simulator is stopping: it finishes what it started and records it, "
                "and answers nothing new",
                [("Retry-After", REFUSAL_RETRY_AFTER)],
            )
        if self._writable and self.journal is not None:
            try:
                self.journal.begin(request_id, exchange.as_dict())
            except JournalError as exc:
                self._unwritable(str(exc))
        if not self._writable:
            return Refusal(
                503,
                Cause.STORE_UNAVAILABLE,
                f"the bench cannot record this exchange ({self._reason}), so it does not serve it",
                [("Retry-After", REFUSAL_RETRY_AFTER)],
            )
        return None

    def record(
        self,
        request: web.Request,
        response: web.StreamResponse,
        outcome: Outcome,
        request_id: str | None = None,
    ) -> None:
        """Journal the whole exchange, then judge and store it in the background."""
        exchange = exchange_of(request, response, outcome)
        decision = exchange.decision
        if decision is not None and decision.cause is Cause.STORE_UNAVAILABLE:
            self.record_noise(exchange)  # refused while the store is down: aggregated
            return
        if decision is not None and decision.cause is Cause.QUOTA_EXCEEDED:
            # refused over quota: aggregated per organisation and minute, nothing else kept
            key = self.quotas.key_of(exchange.tls.peer if exchange.tls else None)
            self.noise.add((key, decision.cause.value), exchange)
            return
        self.submit(exchange, request_id)

    def record_cut(
        self,
        request: web.Request,
        sent: web.StreamResponse | None,
        outcome: Outcome,
        request_id: str,
    ) -> None:
        """Record an answer the stop cut short (`sent`: its head), or one never begun."""
        if sent is None:
            detail = "the simulator stopped before it began to answer"
            exchange = request_exchange(request, outcome.tls, outcome.started_at)
            cut = Decision(0, Cause.SHUTTING_DOWN, detail)
            self.submit(replace(exchange, decision=cut, transport_error=detail), request_id)
            return
        cut = Decision(sent.status, Cause.SHUTTING_DOWN, "the answer was cut short by the stop")
        self.submit(exchange_of(request, sent, replace(outcome, decision=cut)), request_id)

    def submit(self, exchange: Exchange, exchange_id: str | None = None) -> None:
        """Journal, judge and store an exchange in the background (call from the event loop)."""
        exchange_id = exchange_id or new_request_id()
        if self.journal is not None:
            try:
                self.journal.end(exchange_id, exchange.as_dict())
            except JournalError as exc:
                self._unwritable(str(exc))
        task = asyncio.get_running_loop().create_task(self._judge_and_store(exchange_id, exchange))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def record_noise(self, exchange: Exchange) -> None:
        """Record a rejection outside the WADO-RS service, aggregating repeats per address."""
        tls = exchange.tls
        host = (tls.peer_address or "?").rsplit(":", 1)[0] if tls is not None else "?"
        cause = exchange.decision.cause.value if exchange.decision is not None else ""
        self.noise.add((host, cause), exchange)

    def record_refusal(self, facts: TlsFacts) -> None:
        """Record a refused TLS handshake (no HTTP request ever arrived) as its own exchange,
        aggregating repeats per peer address and reason (a flood of bad handshakes from one
        peer is a few exchanges, the last saying how many more there were).

        Called from the event loop's thread, inside the TLS handshake.
        """
        handshake = facts.handshake
        what = handshake.message if handshake is not None else "refused"
        host = (facts.peer_address or "?").rsplit(":", 1)[0]
        reason = handshake.reason if handshake is not None else ""
        self.noise.add(
            (host, f"handshake-refused:{reason}"),
            Exchange(
                origin="server",
                tls=facts,
                label=f"TLS handshake refused: {what}",
                timings={"started_at": time.time()},
            ),
        )

    async def _judge_and_store(self, exchange_id: str, exchange: Exchange) -> None:
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(self.executor, self.judge, exchange)
        if not self._writable:
            self._hold(exchange_id, exchange, report)
            return
        try:
            await loop.run_in_executor(self.executor, self._save, exchange_id, exchange, report)
        except Exception as exc:  # a store failure must not take the simulator down
            self._unwritable(_reason(exc))
            self._hold(exchange_id, exchange, report)

    def _hold(self, exchange_id: str, exchange: Exchange, report: Report) -> None:
        if len(self._held) < MAX_HELD:
            self._held.append((exchange_id, exchange, report))
            return
        with self._changed:
            self.failures.append(f"{exchange.subject}: held too long, the store is unwritable")
            self._changed.notify_all()

    def _save(self, exchange_id: str, exchange: Exchange, report: Report) -> None:
        """Store an exchange with its report and count it (in a worker thread: a stop that
        stops waiting for it still counts it once it is in)."""
        kind = str(report.facts.get("kind", "request"))
        ids = save_exchange_and_report(
            self.store, exchange, report, exchange_id=exchange_id, kind=kind
        )
        if self.journal is not None:
            self.journal.stored(exchange_id)
        with self._changed:
            self.recorded.append(Recorded(ids[0], ids[1], report))
            self._changed.notify_all()

    # -- stopping ------------------------------------------------------------------------------

    async def drain(self) -> None:
        """Store what is in flight, for at most `drain_seconds` (the server is stopping).

        What is not stored by then (a store still down, a slow database) stays in the journal.
        """
        self.stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.noise.flush()
        deadline = time.monotonic() + self.drain_seconds
        while self._pending and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(set(self._pending), timeout=left)
        if self._held and deadline > time.monotonic():
            await self._try_again()
        journal = self.journal
        lost = [e for i, e, _ in self._held if journal is None or not journal.holds(i)]
        if self._held:
            self.notify(
                f"drimlab: {len(self._held)} exchange(s) could not be stored before the stop "
                f"({self._reason}); {len(self._held) - len(lost)} of them are in the journal"
            )
            self._held.clear()
        with self._changed:
            self.failures.extend(f"{e.subject}: neither journaled nor stored" for e in lost)
            self._changed.notify_all()

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Block until at least `count` exchanges are recorded (tests, scenarios)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: len(self.recorded) + len(self.failures) >= count, timeout
            )

    def judge(self, exchange: Exchange) -> Report:
        """The report of one of this simulator's exchanges (its selection, its KOS)."""
        return judge_exchange(exchange, self.index, self.selection)

    def close(self) -> int:
        """Wait for the stores under way, release the journal; how many it still holds."""
        self.quotas.close()
        self.executor.shutdown(wait=True)
        if self.journal is None:
            return 0
        left = self.journal.pending
        self.journal.close()
        return left


def judge_exchange(exchange: Exchange, index: CatalogIndex, selection: Selection) -> Report:
    """The report of a server-side exchange, with the KOS its request names when known."""
    kos_uid = (exchange.request_header(KOS_HEADER) or "").strip()
    kos_info = index.kos(kos_uid) if kos_uid else None
    kos = read_kos(kos_info.path) if kos_info is not None else None
    return validate_exchange(exchange, selection, kos=kos)


def _reason(exc: BaseException) -> str:
    """A store failure in one line (SQLAlchemy's echo of the statement left out)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    return " ".join(text.split())[:300] or type(exc).__name__
