"""`drimlab peer orthanc [--mtls]` then the `scenario run` it prints, as a vendor runs them: two
processes, the second in another directory without .venv/bin on PATH (issue 17)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drimlab.config import Settings
from drimlab.simulators.environment import BenchEnvironment
from drimlab.store import open_store
from drimlab.testing.process import port_accepts
from tests.output import read_until

pytestmark = [pytest.mark.peer, pytest.mark.slow]
DRIMLAB = str(Path(sys.executable).with_name("drimlab"))


@pytest.mark.parametrize("mtls", [True, False], ids=["mtls", "plain"])
def test_peer_orthanc_then_the_printed_scenario_runs_end_to_end(
    default_dataset_copy: Settings, tmp_path: Path, mtls: bool
) -> None:
    store = open_store(default_dataset_copy)
    try:
        BenchEnvironment.prepare(store, default_dataset_copy)
    finally:
        store.close()
    env = {**os.environ, "DRIMLAB_HOME": str(default_dataset_copy.home)}
    peer = subprocess.Popen(
        [DRIMLAB, "peer", "orthanc", "--exam", "radio-thorax", *(["--mtls"] if mtls else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        notice = read_until(peer, "Ctrl-C")
        base = next(line for line in notice.splitlines() if "WADO-RS base URL" in line).split()[-1]
        assert base.startswith("https://localhost:" if mtls else "http://127.0.0.1:")
        command = next(line for line in notice.splitlines() if " scenario run " in line).strip()
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        done = subprocess.run(
            ["bash", "-c", command], cwd=elsewhere, capture_output=True, text=True, timeout=300,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert ": done (4 done)" in done.stdout
        answers = [line for line in done.stdout.splitlines() if ": HTTP " in line]
        assert answers and all(line.endswith("HTTP 200, PASSED") for line in answers)
    finally:
        peer.send_signal(signal.SIGINT)
        rest, _ = peer.communicate(timeout=60)
    assert peer.returncode == 0, rest
    assert rest.strip().endswith("stopped")
    port = int(base.split(":")[2].split("/")[0])
    assert not port_accepts(port)  # nginx (or Orthanc) went with it
