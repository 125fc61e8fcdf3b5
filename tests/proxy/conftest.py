"""The proxy's test bench: a prepared home (dataset, PKI, whitelist), the server simulator as
the source, and the proxy between it and a consumer, all on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest

from drimlab.config import Settings
from drimlab.datasets.catalog import ExamInfo, KosInfo, kos_for_base, list_exams
from drimlab.proxy.config import Identity, ProxyConfig, Upstream
from drimlab.proxy.server import RunningProxy, proxy_in_thread
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT, BenchEnvironment
from drimlab.simulators.runner import RunningServer, free_port
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store import Store, open_store


@dataclass
class ProxyBench:
    """A home with the default dataset and its PKI; a KOS whose Retrieve URLs name the proxy."""

    settings: Settings
    store: Store
    env: BenchEnvironment
    exam: ExamInfo
    kos: KosInfo
    source_port: int
    proxy_port: int

    @property
    def proxy_base(self) -> str:
        return f"https://localhost:{self.proxy_port}/dicom-web"

    def config(self, **changes: Any) -> ProxyConfig:
        """The proxy between a bench consumer and the bench source, as `drimlab proxy` sets it."""
        pki = self.env.pki
        config = ProxyConfig(
            upstream=Upstream("https", "localhost", self.source_port),
            listen=Identity(
                pki.chain_path(SOURCE_CERT), pki.key_path(SOURCE_CERT), pki.bundle_path
            ),
            client=Identity(
                pki.chain_path(CONSUMER_CERT), pki.key_path(CONSUMER_CERT), pki.bundle_path
            ),
            port=self.proxy_port,
            whitelist=self.env.whitelist(),
            crl=self.env.revocation_list(),
            trust_hint=str(pki.bundle_path),
        )
        return replace(config, **changes)

    def source(self, *faults: str) -> AbstractContextManager[RunningServer]:
        """The server simulator on the source port, with these faults."""

        @contextmanager
        def running() -> Iterator[RunningServer]:
            options = SourceOptions(port=self.source_port, crl_port=None, faults=faults)
            with source_in_thread(self.store, self.env, options) as (_, server):
                yield server

        return running()

    def proxy(self, **changes: Any) -> AbstractContextManager[RunningProxy]:
        return proxy_in_thread(self.config(**changes), self.store)


@pytest.fixture(scope="module")
def bench(
    default_dataset: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyBench]:
    home = tmp_path_factory.mktemp("proxy") / "home"
    shutil.copytree(default_dataset.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    source_port, proxy_port = free_port(), free_port()
    exam = next(e for e in list_exams(store) if e.series_count > 1)
    kos = kos_for_base(store, settings, exam.name, f"https://localhost:{proxy_port}/dicom-web")
    yield ProxyBench(settings, store, env, exam, kos, source_port, proxy_port)
    store.close()
