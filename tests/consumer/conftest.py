"""The client simulator's targets: the server simulator over mutual TLS, and Orthanc."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.datasets.catalog import ExamInfo, KosInfo, kos_for_base, list_exams
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.runner import RunningServer, free_port
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store import Store, open_store


@dataclass
class Bench:
    """A prepared home (dataset, PKI, whitelist) and a KOS of its first exam for one port."""

    settings: Settings
    store: Store
    env: BenchEnvironment
    port: int
    exam: ExamInfo
    kos: KosInfo
    other: ExamInfo

    @property
    def base(self) -> str:
        # The bench whitelist lists the source as `localhost`: connect by that name.
        return f"https://localhost:{self.port}/dicom-web"

    def source(self, *faults: str) -> AbstractContextManager[RunningServer]:
        """The server simulator on this bench's port, with these faults."""

        @contextmanager
        def running() -> Iterator[RunningServer]:
            options = SourceOptions(port=self.port, crl_port=None, faults=faults)
            with source_in_thread(self.store, self.env, options) as (_, server):
                yield server

        return running()


@pytest.fixture(scope="module")
def bench(default_dataset: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """One private copy of the default dataset per module, with its PKI and a KOS for a port."""
    home = tmp_path_factory.mktemp("consumer") / "home"
    shutil.copytree(default_dataset.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    port = free_port()
    exams = list_exams(store)
    exam = next(e for e in exams if e.series_count > 1)
    other = next(e for e in exams if e.name != exam.name)
    kos = kos_for_base(store, settings, exam.name, f"https://localhost:{port}/dicom-web")
    yield Bench(settings, store, env, port, exam, kos, other)
    store.close()


RetrieveFactory = Callable[..., object]


def kept_files(folder: Path) -> list[Path]:
    """Every part kept under a --keep folder."""
    return sorted(folder.rglob("*.dcm"))
