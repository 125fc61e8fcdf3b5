"""Dataset writers take turns and a killed one leaves nothing the next one does not sweep.

Real processes, real signals: `drimlab dataset generate` is killed with SIGKILL while its
encoding workers run; the workers must die with it and its `.staging/<uuid>` folder is
removed by the next writer. Concurrent `dataset generate` and `dataset import` all land.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from drimlab.config import Settings
from drimlab.datasets.catalog import list_exams
from drimlab.datasets.staging import staging_area, sweep_staging
from drimlab.datasets.synthetic import dataset_specs, write_exam
from drimlab.store import open_store

DRIMLAB = str(Path(sys.executable).with_name("drimlab"))
PATIENCE = 120.0  # seconds a condition may take on a loaded machine (not a speed target)


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _workers(pid: int) -> list[int]:
    return [
        child
        for child in _children(pid)
        if "spawn_main" in _cmdline(child) and "resource_tracker" not in _cmdline(child)
    ]


def _staged(home: Path) -> list[Path]:
    root = home / ".staging"
    return [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []


def _exam_folder(tmp_path: Path, index: int) -> Path:
    """A small exam of its own (fresh study, series and instance UIDs) to import."""
    spec = min(dataset_specs("default"), key=lambda s: s.instance_count)
    folder = tmp_path / f"import-{index}"
    study, series = generate_uid(), generate_uid()
    for path in write_exam(spec, folder):
        ds = dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(path, enforce_file_format=True)
    return folder


def test_a_killed_generation_takes_its_workers_and_the_next_writer_sweeps(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    process = subprocess.Popen(
        [DRIMLAB, "--home", str(home), "dataset", "generate"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: len(_workers(process.pid)) >= 2 and _staged(home), "encoding workers")
        workers = _workers(process.pid)
        staged = _staged(home)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    _wait_for(lambda: not any(_alive(w) for w in workers), "the workers to die with their parent")
    assert all(path.is_dir() for path in staged)  # left behind until the next writer

    folder = _exam_folder(tmp_path, 0)
    done = subprocess.run(
        [DRIMLAB, "--home", str(home), "dataset", "import", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not any(path.exists() for path in staged)
    assert list((home / ".staging").iterdir()) == []


def test_a_live_staging_folder_is_not_swept(settings: Settings) -> None:
    with staging_area(settings) as live:
        (live / "file").write_bytes(b"x")
        assert sweep_staging(settings) == []
        assert (live / "file").exists()
    assert not live.exists()


def test_concurrent_generate_and_imports_all_land(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folders = [_exam_folder(tmp_path, index) for index in range(2)]
    commands = [[DRIMLAB, "--home", str(home), "dataset", "generate"]] + [
        [DRIMLAB, "--home", str(home), "dataset", "import", str(f), "--name", f"imported-{i}"]
        for i, f in enumerate(folders)
    ]
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c in commands
    ]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    store = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    try:
        names = {exam.name for exam in list_exams(store)}
    finally:
        store.close()
    assert {spec.name for spec in dataset_specs("default")} <= names
    assert {"imported-0", "imported-1"} <= names
    assert list((home / ".staging").iterdir()) == []
