"""Secrets kept: `drimlab start` under umask 000 leaves a private home, and a real retrieval's
bearer token is nowhere in clear: not in the database, `exchanges show`, or the log."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
from pathlib import Path

from drimlab.simulators.runner import free_port
from tests.output import read_until


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _open_umask() -> None:
    os.umask(0)


def test_start_under_umask_000_keeps_the_home_private_and_no_token_in_clear(
    tmp_path: Path,
) -> None:
    home = tmp_path / "fresh" / "home"
    port, crl_port = free_port(), free_port()
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    env = {**os.environ, "DRIMLAB_HOME": str(home)}
    env.pop("DRIMLAB_DATABASE_URL", None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [drimlab, *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=_open_umask,
        )
        return done.stdout

    process = subprocess.Popen(
        [drimlab, "start", "--port", str(port), "--crl-port", str(crl_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_open_umask,  # noqa: PLW1509 (the test starts no thread of its own)
    )
    try:
        notice = read_until(process, "serving", timeout=300)
        example = next(line for line in notice.splitlines() if line.strip().startswith("curl "))
        token = run("token", "issue").strip()
        # the token we issued ourselves, so that we know what must never appear in clear
        command = re.sub(r"\$\([^)]*token issue\)", token, example.strip())
        assert token in command
        command = command.replace("-o series.multipart", f"-s -o {tmp_path / 'series.bin'}")
        result = subprocess.run(
            [*shlex.split(command), "-w", "%{http_code}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.stdout == "200", result.stderr
    finally:
        process.send_signal(signal.SIGINT)
        log, _ = process.communicate(timeout=60)
    assert process.returncode == 0, log

    assert _mode(home) == 0o700
    databases = sorted(home.glob("drimlab.db*"))
    assert databases and all(_mode(p) == 0o600 for p in databases), databases
    keys = [*(home / "pki" / "private").glob("*.key"), *(home / "tokens").glob("*.pem")]
    assert len(keys) > 5
    assert {p.name: _mode(p) for p in keys} == {p.name: 0o600 for p in keys}

    listed = json.loads(run("exchanges", "list", "--json"))
    assert [e["status"] for e in listed] == [200]
    shown = run("exchanges", "show", listed[0]["id"]) + run(
        "exchanges", "show", listed[0]["id"], "--format", "json"
    )
    assert "Authorization: Bearer [redacted sha256:" in shown
    payload = token.split(".")[1]
    for where, text in (("exchanges show", shown), ("the log", log)):
        assert token not in text and payload not in text, where
    stored = b"".join(p.read_bytes() for p in home.glob("drimlab.db*"))
    assert token.encode() not in stored and payload.encode() not in stored
