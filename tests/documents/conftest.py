"""Fixtures of the document validators: the files of `tests/fixtures/documents/`."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "documents"


@pytest.fixture(scope="session")
def documents() -> Path:
    """The document fixtures folder (see make_fixtures.py)."""
    return FIXTURES


@pytest.fixture(scope="session")
def good_images() -> list[Path]:
    """The synthetic images the good KOS references."""
    return sorted((FIXTURES / "cross" / "images").glob("*.dcm"))
