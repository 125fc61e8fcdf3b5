"""Shared fixtures: an isolated drimlab home and store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.store import Store, open_store

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
