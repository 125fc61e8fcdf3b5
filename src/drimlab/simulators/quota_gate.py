"""The server simulator's view of storage quotas: is the client's organisation over its quota?

The organisation is the one the client certificate is attributed to (`ownership.attribute`);
its state is `store.quotas.check_quota`. Both are asked of the store at most once every
`CHECK_SECONDS` per certificate (in a worker thread, never on the event loop), so a retrieval
does not wait on the database. A request of an organisation over its quota is refused with
503 and Retry-After (`Cause.QUOTA_EXCEEDED`); the simulator records that fact, aggregated per
organisation and minute by the noise aggregator, and the REFUSAL-007 rule judges it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
        self._lock = threading.Lock()

    def _look(self, certificate: CertificateFacts) -> _Seen:
        now = self._clock()
        with self._lock:
            seen = self._seen.get(certificate.sha256)
        if seen is not None and now - seen.at < self.ttl:
            return seen
        with self.store.session() as session:
            organisation_id = attribute(session, certificate)
        over = over_quota(self.store, organisation_id)
        key = f"organisation #{organisation_id}" if organisation_id is not None else None
        if over is not None:
            key = f"organisation {over.organisation!r}"
        seen = _Seen(now, key, over)
        with self._lock:
            self._seen[certificate.sha256] = seen
        return seen

    def refusal(self, certificate: CertificateFacts | None) -> Refusal | None:
        """The 503 for a certificate whose organisation is over its quota; None otherwise
        (also when the store cannot be read: the recorder then says so on its own)."""
        if certificate is None:
            return None
        try:
            over = self._look(certificate).over
        except Exception:  # an unreadable store is the recorder's to report
            return None
        if over is None:
            return None
        return Refusal(
            503,
            Cause.QUOTA_EXCEEDED,
            f"quota: {over.reason}",
            [("Retry-After", RETRY_AFTER)],
        )

    def key_of(self, certificate: CertificateFacts | None) -> str:
        """What the refusals of this certificate are aggregated under: its organisation."""
        if certificate is None:
            return "?"
        with self._lock:
            seen = self._seen.get(certificate.sha256)
        return (seen.organisation if seen is not None else None) or certificate.subject or "?"
