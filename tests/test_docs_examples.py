"""Every documented command works as written from a fresh clone (issue 17).

The README's first screen (`./scripts/run`, `./scripts/test`) and every code block of README.md
and docs/*.md marked as an example (an HTML comment `<!-- example -->` on the line before the
fence) are run in a copy of the checkout's tracked files, on the fresh data home that
`./scripts/run` makes there. `./scripts/test` is not run from inside the suite (it runs the
suite): it must exist and be what CI (`.ci/run`) runs.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drimlab.simulators.runner import free_port

ROOT = Path(__file__).resolve().parents[1]
MARK = "<!-- example -->"
BLOCK = re.compile(re.escape(MARK) + r"\s*\n```[a-z]*\n(.*?)^```", re.S | re.M)
FIRST_SCREEN = re.compile(r"^```sh\n(\./scripts/run .*?)^```", re.S | re.M)
VENV_BIN = Path(sys.executable).parent


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def example_blocks() -> list[tuple[str, str]]:
    """(where, text) of every marked block, README first, then docs/ in name order."""
    found = []
    for path in _documents():
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 2
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def test_examples_are_marked_in_the_readme_and_the_docs() -> None:
    where = {w.split(":")[0] for w, _ in example_blocks()}
    assert "README.md" in where
    assert {"docs/datasets.md", "docs/documents.md", "docs/scenarios.md", "docs/trust.md"} <= where
    for path in _documents():
        text = path.read_text(encoding="utf-8")
        # a mark must sit right before a fence, or it marks nothing
        assert text.count(MARK) == len(BLOCK.findall(text)), path


def test_the_first_screen_is_run_and_test_and_ci_runs_the_test_script() -> None:
    first = FIRST_SCREEN.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert commands == ["./scripts/run", "./scripts/test"]
    for script in ("scripts/run", "scripts/test", "scripts/setup", ".ci/run"):
        assert os.access(ROOT / script, os.X_OK) or (ROOT / script).read_text().startswith("#!")
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_benchmark_commands_name_the_environment_python_and_start() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    commands = re.findall(r"([.\w/]*python) (bench/[a-z_]+\.py)", text)
    assert commands
    for python, script in commands:
        assert python == ".venv/bin/python", f"{python} {script}: say which Python"
        done = subprocess.run(
            [sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


def _fresh_clone(target: Path) -> Path:
    """The checkout's tracked files (as they are now), and this environment as its .venv."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no fresh clone to make")
    for name in listed.stdout.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(VENV_BIN.parent)
    return target


def _clean_env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIMLAB_")}
    env["PATH"] = f"{clone / '.venv' / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"
    env["VIRTUAL_ENV"] = str(clone / ".venv")  # `. .venv/bin/activate`, said once in README
    return env


@pytest.mark.slow
@pytest.mark.peer
def test_the_first_screen_and_every_marked_example_work_from_a_fresh_clone(
    tmp_path: Path,
) -> None:
    clone = _fresh_clone(tmp_path / "drimlab")
    env = _clean_env(clone)
    # ./scripts/run as written, on its own port (another bench may hold 8443 on this machine)
    serving = subprocess.Popen(
        ["./scripts/run", "--port", str(free_port()), "--crl-port", "0"],
        cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    seen = ""
    try:
        deadline = time.monotonic() + 300
        assert serving.stdout is not None
        while "serving; Ctrl-C to stop" not in seen and time.monotonic() < deadline:
            line = serving.stdout.readline()
            if not line:
                break
            seen += line
        assert "serving; Ctrl-C to stop" in seen, seen
    finally:
        serving.send_signal(signal.SIGINT)
        rest, _ = serving.communicate(timeout=60)
    assert serving.returncode == 0, seen + rest
    assert (clone / "drimlab-data" / "pki" / "whitelist.xml").is_file()
    for where, block in example_blocks():
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block], cwd=clone, env=env,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{where}:\n{block}\n--- out\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, where
