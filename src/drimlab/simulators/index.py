"""An in-memory index of the catalogue for the server simulator's hot path.

Every request looks up a study, a series, an instance or a KOS; asking the database each time
would put SQL on the path of every retrieval. The index is loaded once from the store; the
server calls `refresh` (in a worker thread, never on the event loop) when a request names a
study or KOS the snapshot lacks, so an exam imported while the simulator runs is served on
the first request that names it. Reloads happen at most once per `refresh_interval` seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from drimlab.datasets.catalog import (
    ExamInfo,
    InstanceInfo,
    KosInfo,
    SeriesInfo,
    exam_series,
    list_exams,
)
from drimlab.store import Store


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the catalogue."""

    exams: dict[str, ExamInfo] = field(default_factory=dict)  # by study UID
    series: dict[str, SeriesInfo] = field(default_factory=dict)  # by series UID
    study_series: dict[str, tuple[SeriesInfo, ...]] = field(default_factory=dict)
    instances: dict[str, InstanceInfo] = field(default_factory=dict)  # by SOP instance UID
    manifests: dict[str, KosInfo] = field(default_factory=dict)  # by KOS SOP instance UID


def load_snapshot(store: Store) -> Snapshot:
    """Read the whole catalogue from the store."""
    snap = Snapshot()
    for exam in list_exams(store):
        snap.exams[exam.study_instance_uid] = exam
        series = exam_series(store, exam.name)
        snap.study_series[exam.study_instance_uid] = series
        for item in series:
            snap.series[item.series_instance_uid] = item
            for instance in item.instances:
                snap.instances[instance.sop_instance_uid] = instance
        for kos in exam.manifests:
            snap.manifests[kos.sop_instance_uid] = kos
    return snap


class CatalogIndex:
    """Lookups by UID, reloaded from the store on a miss (rate-limited)."""

    def __init__(self, store: Store, *, refresh_interval: float = 2.0) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._refresh_interval = refresh_interval
        self._loaded_at = time.monotonic()
        self.snapshot = load_snapshot(store)

    def refresh(self, *, force: bool = False) -> bool:
        """Reload unless done very recently; True when a reload happened."""
        with self._lock:
            if not force and time.monotonic() - self._loaded_at < self._refresh_interval:
                return False
            self.snapshot = load_snapshot(self._store)
            self._loaded_at = time.monotonic()
            return True

    def knows(self, study_uid: str, kos_uid: str | None) -> bool:
        """Whether the snapshot holds this study (and this KOS, when one is named)."""
        snap = self.snapshot
        return study_uid in snap.exams and (not kos_uid or kos_uid in snap.manifests)

    def exam(self, study_uid: str) -> ExamInfo | None:
        return self.snapshot.exams.get(study_uid)

    def series_of(self, study_uid: str) -> tuple[SeriesInfo, ...]:
        return self.snapshot.study_series.get(study_uid, ())

    def series(self, series_uid: str) -> SeriesInfo | None:
        return self.snapshot.series.get(series_uid)

    def instance(self, sop_uid: str) -> InstanceInfo | None:
        return self.snapshot.instances.get(sop_uid)

    def kos(self, sop_uid: str) -> KosInfo | None:
        return self.snapshot.manifests.get(sop_uid)
