"""Shared fixtures: an isolated drimlab home and store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from drimlab.config import Settings
from drimlab.store import Store, open_store

# CI replays the same examples on every run (a red build then means a change broke something);
# developers' runs keep exploring new random examples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "ans"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    home = tmp_path / "home"
    monkeypatch.setenv("DRIMLAB_HOME", str(home))
    monkeypatch.delenv("DRIMLAB_DATABASE_URL", raising=False)
    return Settings.from_env()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The public ANS samples (`../shared/reference/ans`)."""
    if not REFERENCE.is_dir():
        pytest.fail(f"ANS reference samples not found at {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def default_dataset(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a home holding the default dataset, generated once per session; read-only."""
    from drimlab.datasets.catalog import generate_dataset

    home = tmp_path_factory.mktemp("default-dataset") / "home"
    generated = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    opened = open_store(generated)
    try:
        generate_dataset(opened, generated, "default")
    finally:
        opened.close()
    return generated


@pytest.fixture
def default_dataset_copy(
    default_dataset: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """A private, writable copy of the default dataset's home (DRIMLAB_HOME points at it)."""
    import shutil

    home = tmp_path / "default-home"
    shutil.copytree(default_dataset.home, home)
    monkeypatch.setenv("DRIMLAB_HOME", str(home))
    monkeypatch.delenv("DRIMLAB_DATABASE_URL", raising=False)
    return Settings(
        home=home,
        database_url=f"sqlite:///{home / 'drimlab.db'}",
        wado_base_url=default_dataset.wado_base_url,
    )
