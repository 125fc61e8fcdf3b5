"""A full disk during `dataset generate` or `pki init` is one line, and nothing is left half-done.

The disk is a real one: a small tmpfs mounted for the test (root is needed to mount it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.datasets.catalog import list_exams
from drimlab.store import open_store

DRIMLAB = str(Path(sys.executable).with_name("drimlab"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB file system of its own."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _drimlab(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRIMLAB, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _fill(disk: Path) -> None:
    with (disk / "filler").open("wb") as handle:
        try:
            while True:
                handle.write(bytes(64 * 1024))
                handle.flush()
        except OSError:
            pass


def test_dataset_generate_on_a_full_disk(small_disk: Path) -> None:
    home = small_disk / "home"
    done = _drimlab(home, "dataset", "generate")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines == ["drimlab: error: the disk is full (No space left on device); nothing was kept"]
    assert list((home / ".staging").iterdir()) == []
    assert not (home / "datasets").exists() or not any((home / "datasets").iterdir())
    store = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    try:
        assert list_exams(store) == []  # no row without its files
    finally:
        store.close()


def test_pki_init_on_a_full_disk(small_disk: Path) -> None:
    home = small_disk / "home"
    home.mkdir()
    _fill(small_disk)
    done = _drimlab(home, "pki", "init")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "drimlab: error: the disk is full (No space left on device); nothing was kept"
    ]
    leftovers = [p.name for p in home.rglob("*")]
    assert set(leftovers) <= {"pki", ".lock"}  # the lock file only: no half-built PKI
    (small_disk / "filler").unlink()
    again = _drimlab(home, "pki", "init")
    assert again.returncode == 0, again.stderr
    assert (home / "pki" / "manifest.json").exists()
