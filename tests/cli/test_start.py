"""`drimlab start`, the README's main job, as a user runs it: a real process, curl, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from drimlab.config import Settings
from drimlab.simulators.runner import free_port
from tests.output import read_until


def test_start_serves_the_default_exams_over_mtls_and_stops_cleanly(
    default_dataset_copy: Settings, tmp_path: Path
) -> None:
    port, crl_port = free_port(), free_port()
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    env = {**os.environ, "DRIMLAB_HOME": str(default_dataset_copy.home)}
    process = subprocess.Popen(
        [drimlab, "start", "--port", str(port), "--crl-port", str(crl_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        notice = read_until(process, "serving")
        example = next(line for line in notice.splitlines() if line.strip().startswith("curl "))
        # As a user pastes it: a shell in another directory, without .venv/bin on PATH and
        # without DRIMLAB_HOME (the command names its home).
        command = example.strip().replace("-o series.multipart", "-s -o series.bin")
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        result = subprocess.run(
            ["bash", "-c", f"{command} -w %{{http_code}}"],
            cwd=elsewhere,
            env=bare,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.stdout == "200", result.stderr
        assert (elsewhere / "series.bin").read_bytes().count(b"DICM") >= 1
        crl = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
             f"http://127.0.0.1:{crl_port}/pki/crl"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert crl.stdout == "200"
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert re.search(r"stopped: 1 exchanges recorded", rest)
