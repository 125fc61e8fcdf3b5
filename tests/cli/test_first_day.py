"""A vendor's first day (issue 17): the commands `drimlab start` prints work as printed, from
any directory; a busy port, a bad port or a home without a test environment is one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.runner import free_port
from drimlab.store import open_store
from drimlab.tokens import TokenIssuer
from tests.output import read_until

DRIMLAB = str(Path(sys.executable).with_name("drimlab"))


@pytest.fixture
def prepared(default_dataset_copy: Settings) -> Settings:
    """A home with the default dataset, the test PKI, the whitelist and the token issuer."""
    store = open_store(default_dataset_copy)
    try:
        BenchEnvironment.prepare(store, default_dataset_copy)
    finally:
        store.close()
    return default_dataset_copy


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_serve_on_a_busy_port_prints_one_error_line_and_nothing_else(
    prepared: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status = run(["serve", "--port", str(port), "--crl-port", "0"])
    out = capsys.readouterr()
    assert status == 2
    assert out.out == ""
    assert _lines(out.err) == [
        f"drimlab: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "0"],
        ["serve", "--crl-port", "-1"],
        ["start", "--port", "65536"],
        ["serve", "--port", "many"],
    ],
)
def test_serve_refuses_a_port_out_of_range_in_one_line(
    argv: list[str], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = _lines(out.err)
    assert line.startswith("drimlab: error: Invalid value for '--")
    assert line.endswith(f"(see: drimlab {argv[0]} --help)")
    assert not settings.home.exists()  # refused before anything was prepared


def test_token_issue_refuses_to_invent_an_issuer_in_a_home_without_pki(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["token", "issue"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = _lines(out.err)
    assert f"no test environment in {settings.home}" in line
    assert "--home" in line
    assert not TokenIssuer.key_path(settings).exists()


def test_token_issue_names_the_home_it_uses(
    prepared: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["token", "issue"]) == 0
    out = capsys.readouterr()
    assert out.out.count(".") == 2  # the JWT alone on stdout
    assert f"token of the issuer in {prepared.home}" in out.err


# -- the printed notice, as a user runs it -------------------------------------------------


@pytest.fixture
def started(prepared: Settings) -> Iterator[str]:
    """`drimlab start` in a subprocess; yields its notice."""
    env = {**os.environ, "DRIMLAB_HOME": str(prepared.home)}
    process = subprocess.Popen(
        [DRIMLAB, "start", "--port", str(free_port()), "--crl-port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield read_until(process, "serving")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def _notice_value(notice: str, label: str) -> str:
    line = next(line for line in notice.splitlines() if line.strip().startswith(label))
    return line.strip()[len(label) :].strip()


def test_the_notice_names_the_host_of_the_certificate_and_the_home(
    started: str, prepared: Settings
) -> None:
    base = _notice_value(started, "WADO-RS base URL")
    assert base.startswith("https://localhost:")
    assert _notice_value(started, "data home") == str(prepared.home)


def test_the_printed_example_request_works_from_another_directory(
    started: str, tmp_path: Path
) -> None:
    lines = started.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "example request:")
    command = lines[at + 1].strip()
    assert command.startswith("curl ")
    done = subprocess.run(
        ["bash", "-c", command + " --fail --silent --show-error --write-out '%{http_code}'"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "200"
    body = (tmp_path / "series.multipart").read_bytes()
    assert b"Content-Type: application/dicom" in body or b"content-type: application/dicom" in body


def test_a_source_scenario_against_the_printed_base_url_is_done_and_passed(
    started: str, tmp_path: Path
) -> None:
    base = _notice_value(started, "WADO-RS base URL")
    home = _notice_value(started, "data home")
    done = subprocess.run(
        [DRIMLAB, "--home", home, "scenario", "run", "DRIM-M_SO_REPONSE_WADO", "--auto",
         "-i", f"base_url={base}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WL-021" not in done.stdout
    assert ": done (" in done.stdout
    verdicts = [line for line in done.stdout.splitlines() if ": HTTP " in line]
    assert verdicts and all(line.endswith("PASSED") for line in verdicts), done.stdout


def test_a_bug_of_drimlab_is_one_line_not_a_traceback(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_: Settings) -> None:
        raise ValueError("something\nnobody expected")

    monkeypatch.setattr("drimlab.cli.token.bench_issuer", broken)
    monkeypatch.delenv("DRIMLAB_TRACEBACK", raising=False)
    assert run(["token", "jwks"]) == 70
    (line,) = _lines(capsys.readouterr().err)
    assert line.startswith("drimlab: internal error: ValueError: something nobody expected")
    monkeypatch.setenv("DRIMLAB_TRACEBACK", "1")
    with pytest.raises(ValueError, match="nobody expected"):
        run(["token", "jwks"])
