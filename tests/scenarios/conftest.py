"""A bench home per test module (default dataset, test PKI, signed whitelist) and a source
under test: the server simulator, over mutual TLS, in a background thread."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store import Store, open_store


@dataclass(frozen=True)
class Bench:
    """An isolated drimlab home with everything a scenario run needs."""

    settings: Settings
    store: Store
    env: BenchEnvironment


@pytest.fixture(scope="module")
def bench(default_dataset: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    home = tmp_path_factory.mktemp("scenario-bench") / "home"
    shutil.copytree(default_dataset.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    yield Bench(settings, store, env)
    store.close()


@pytest.fixture
def bench_cli(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """The bench, with the CLI pointed at its home."""
    monkeypatch.setenv("DRIMLAB_HOME", str(bench.settings.home))
    monkeypatch.delenv("DRIMLAB_DATABASE_URL", raising=False)
    return bench


@pytest.fixture(scope="module")
def source_url(bench: Bench) -> Iterator[str]:
    """The WADO-RS base URL of the server simulator standing in for a source under test."""
    options = SourceOptions(port=0, crl_port=None)
    with source_in_thread(bench.store, bench.env, options) as (_setup, server):
        # The bench whitelist lists the source by its certificate's host name, localhost.
        yield f"https://localhost:{server.port}{options.base_path}"


@pytest.fixture
def evidence_file(tmp_path: Path) -> Path:
    path = tmp_path / "source.log"
    path.write_text("GET /dicom-web/studies/... 200 (source log excerpt)\n", encoding="utf-8")
    return path
