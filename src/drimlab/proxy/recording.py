"""Every exchange the proxy relays becomes a stored, validated Exchange, off the relay's path.

The relay hands finished exchanges to the live validation (`live.ValidationPool`); each
Exchange comes back with its Report and is stored here by one store thread
(`store.records.save_exchange` / `save_report`), so neither the validator nor the database
ever sits on the path of the bytes. A handshake the proxy refused is an exchange of its own,
with only its TLS facts. The KOS an exchange is judged against is one given to the proxy
(matched by the request's `KOS-SOPInstanceUID`, else by study), or the one the catalogue
holds under that UID. `on_recorded` is told of each stored exchange (the live view).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from drimlab.datasets.catalog import find_kos
from drimlab.dicomweb.paths import PathError, parse_target
from drimlab.documents.kos import Kos, read_kos
from drimlab.domain import KOS_HEADER
from drimlab.errors import DrimlabError
from drimlab.exchange import Exchange
from drimlab.facts.tls import TlsFacts
from drimlab.store import Store
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.report import Report


@dataclass(frozen=True)
class Recorded:
    """One exchange as stored: its ids (None without a store), the Exchange and its Report."""

    exchange: Exchange
    report: Report | None
    exchange_id: str | None = None
    report_id: str | None = None
    failure: str | None = None


RecordedSink = Callable[[Recorded], None]


class ExchangeKos:
    """The KOS of an exchange: one given to the proxy, else the catalogue's (read once)."""

    def __init__(self, given: tuple[Kos, ...], store: Store | None) -> None:
        self._given = {k.sop_instance_uid: k for k in given}
        self._by_study = {k.study_instance_uid: k for k in given}
        self._store = store
        self._read: dict[str, Kos | None] = {}
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> Kos | None:
        uid = (exchange.request_header(KOS_HEADER) or "").strip()
        if uid in self._given:
            return self._given[uid]
        if uid and self._store is not None:
            with self._lock:
                if uid not in self._read:
                    self._read[uid] = self._from_catalogue(uid)
                found = self._read[uid]
            if found is not None:
                return found
        return self._by_study.get(self._study(exchange) or "")

    def _from_catalogue(self, uid: str) -> Kos | None:
        assert self._store is not None
        try:
            info = find_kos(self._store, uid)
            return read_kos(info.path) if info is not None else None
        except (DrimlabError, OSError):  # an unreadable KOS: judged without one
            return None

    @staticmethod
    def _study(exchange: Exchange) -> str | None:
        try:
            return parse_target(exchange.target or "").study
        except PathError:
            return None


class ProxyRecorder:
    """Stores what the live validation judged, in one background thread."""

    def __init__(
        self,
        store: Store | None,
        *,
        on_recorded: RecordedSink | None = None,
        keep: bool = True,
    ) -> None:
        self.store = store
        self.on_recorded = on_recorded
        self.keep = keep  # False: count only (a long-running proxy must not grow with its traffic)
        self.count = 0
        self.recorded: list[Recorded] = []
        self.failures: list[str] = []
        self._changed = threading.Condition()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drimlab-proxy-store")

    def refusal_exchange(self, facts: TlsFacts) -> Exchange:
        """A handshake the proxy refused, as an exchange of its own (no HTTP ever came)."""
        handshake = facts.handshake
        what = handshake.message if handshake is not None else "refused"
        return Exchange(
            origin="proxy",
            tls=facts,
            label=f"TLS handshake refused: {what}",
            timings={"started_at": time.time()},
        )

    def report(self, exchange: Exchange, report: Report) -> None:
        """Store an exchange and its report (called from a validation thread)."""
        self._executor.submit(self._save, exchange, report, None)

    def failure(self, exchange: Exchange, message: str) -> None:
        """Store an exchange whose validation failed, and keep why."""
        self._executor.submit(self._save, exchange, None, message)

    def _save(self, exchange: Exchange, report: Report | None, failure: str | None) -> None:
        exchange_id = report_id = None
        try:
            if self.store is not None:
                exchange_id = save_exchange(self.store, exchange)
                if report is not None:
                    kind = str(report.facts.get("kind", "exchange"))
                    report_id = save_report(self.store, report, exchange_id=exchange_id, kind=kind)
        except Exception as exc:  # a store failure must not take the proxy down
            failure = f"{exchange.subject}: not stored: {exc}"
        recorded = Recorded(exchange, report, exchange_id, report_id, failure)
        with self._changed:
            self.count += 1
            if self.keep:
                self.recorded.append(recorded)
            if failure is not None:
                self.failures.append(failure)
            self._changed.notify_all()
        if self.on_recorded is not None:
            try:
                self.on_recorded(recorded)
            except Exception as exc:  # the live view must not stop the recording
                with self._changed:
                    self.failures.append(f"live view: {exc}")

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Block until at least `count` exchanges are recorded (tests, benchmarks)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)

    def close(self) -> None:
        """Store what is pending, then stop."""
        self._executor.shutdown(wait=True)
