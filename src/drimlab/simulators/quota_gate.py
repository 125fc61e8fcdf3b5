"""The server simulator's view of storage quotas: is the client's organisation over its quota?

The organisation is the one the client certificate is attributed to (`ownership.attribute`);
its state is `store.quotas.check_quota`. Both are asked of the store in a thread of the gate's
own (never on the event loop, never behind the recorder's writes): a certificate seen for the
first time waits for that answer; after that the last answer is used at once and renewed in
the background when older than `CHECK_SECONDS`, so a retrieval does not wait on the database
(a quota reached is then enforced within those seconds). A request of an organisation over
its quota is refused with 503 and Retry-After (`Cause.QUOTA_EXCEEDED`); the simulator records
that fact, aggregated per organisation and minute by the noise aggregator, and the REFUSAL-007
rule judges it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from drimlab.facts.decision import Cause
from drimlab.facts.tls import CertificateFacts
from drimlab.simulators.refusals import Refusal
from drimlab.store import Store
from drimlab.store.ownership import attribute
from drimlab.store.quotas import QuotaState, over_quota

CHECK_SECONDS = 5.0
RETRY_AFTER = "600"  # seconds: a quota is raised, or old exchanges purged, by a person


@dataclass(frozen=True)
class _Seen:
    at: float
    organisation: str | None  # the key its refusals are aggregated under
    over: QuotaState | None


class QuotaGate:
    """Answers whether a client certificate's organisation may still store exchanges."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._renewing: set[str] = set()
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drimlab-quota")

    def _look(self, certificate: CertificateFacts) -> _Seen:
        """Ask the store (in the gate's thread): the certificate's organisation and state."""
        with self.store.session() as session:
            organisation_id = attribute(session, certificate)
        over = over_quota(self.store, organisation_id)
        key = f"organisation {over.organisation!r}" if over is not None else None
        seen = _Seen(self._clock(), key, over)
        with self._lock:
            self._seen[certificate.sha256] = seen
            self._renewing.discard(certificate.sha256)
        return seen

    def _renewed(self, certificate: CertificateFacts) -> None:
        try:
            self._look(certificate)
        except Exception:  # an unreadable store: keep the last answer, try again later
            with self._lock:
                self._renewing.discard(certificate.sha256)

    async def refusal(self, certificate: CertificateFacts | None) -> Refusal | None:
        """The 503 for a certificate whose organisation is over its quota; None otherwise
        (also when the store cannot be read: the recorder then says so on its own)."""
        if certificate is None:
            return None
        with self._lock:
            seen = self._seen.get(certificate.sha256)
            stale = seen is not None and self._clock() - seen.at >= self.ttl
            renew = stale and certificate.sha256 not in self._renewing
            if renew:
                self._renewing.add(certificate.sha256)
        loop = asyncio.get_running_loop()
        if seen is None:
            try:
                seen = await loop.run_in_executor(self._thread, self._look, certificate)
            except Exception:  # an unreadable store is the recorder's to report
                return None
        elif renew:
            with contextlib.suppress(RuntimeError):  # closed: the simulator is stopping
                loop.run_in_executor(self._thread, self._renewed, certificate)
        if seen.over is None:
            return None
        return Refusal(
            503,
            Cause.QUOTA_EXCEEDED,
            f"quota: {seen.over.reason}",
            [("Retry-After", RETRY_AFTER)],
        )

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    def key_of(self, certificate: CertificateFacts | None) -> str:
        """What the refusals of this certificate are aggregated under: its organisation."""
        if certificate is None:
            return "?"
        with self._lock:
            seen = self._seen.get(certificate.sha256)
        return (seen.organisation if seen is not None else None) or certificate.subject or "?"
