"""`drimlab proxy` as a user runs it: a real process between `drimlab retrieve` and `drimlab
serve`, one live line per exchange, Ctrl-C; bad input is one line, never a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.exchange import Exchange
from drimlab.facts.relay import RelayEnd, RelayFacts
from drimlab.proxy.liveview import live_line
from drimlab.proxy.recording import Recorded
from drimlab.simulators.consumer import retrieve
from drimlab.simulators.retrieval import RetrieveOptions
from drimlab.store.queries import list_exchanges
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange
from drimlab.validation.report import Verdict
from tests.output import read_until

from .conftest import ProxyBench

DRIMLAB = str(Path(sys.executable).with_name("drimlab"))
LIVE_LINE = re.compile(
    r"^\d\d:\d\d:\d\d GET /dicom-web/studies/[\d.]+/series/[\d.]+ 200 PASSED "
    r"[\d.]+ (MB|kB|B) \d+\.\d\d s"
)


def _drimlab(bench: ProxyBench, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIMLAB_HOME": str(bench.settings.home)}
    return subprocess.run(
        [DRIMLAB, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_drimlab_proxy_prints_one_line_per_exchange_and_stores_them(bench: ProxyBench) -> None:
    env = {**os.environ, "DRIMLAB_HOME": str(bench.settings.home)}
    before = len(list_exchanges(bench.store, origin="proxy", limit=10_000))
    upstream = f"https://localhost:{bench.source_port}"
    with bench.source():
        process = subprocess.Popen(
            [DRIMLAB, "proxy", "--upstream", upstream, "--port", str(bench.proxy_port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            notice = read_until(process, "Ctrl-C to stop")
            assert f"relaying to source    {upstream}" in notice
            result = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
            assert result.verdict is Verdict.PASSED
            lines = [read_until(process, " s") for _ in result.records]
        finally:
            process.send_signal(signal.SIGINT)
            rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert f"stopped: {len(result.records)} exchanges recorded" in rest
    for line in lines:
        assert LIVE_LINE.match(line.strip()), line
    stored = list_exchanges(bench.store, origin="proxy", limit=10_000)
    assert len(stored) - before == len(result.records)
    assert all(row.verdicts == ("PASSED",) for row in stored[: len(result.records)])


def test_live_line_names_the_status_the_proxy_gave_and_the_failing_rules() -> None:
    exchange = Exchange(
        method="GET",
        target="/dicom-web/studies/1.2",
        origin="proxy",
        timings={"started_at": 0.0, "total": 1.5},
        transport_error="cannot connect to the source localhost:1: refused",
        relay=RelayFacts(
            upstream="localhost:1",
            ended=RelayEnd.SOURCE_UNREACHABLE,
            detail="cannot connect to the source localhost:1: refused",
            proxy_status=502,
        ),
    )
    report = validate_exchange(exchange, Selection.of("drim-m"))
    line = live_line(Recorded(exchange, report))
    assert " GET /dicom-web/studies/1.2 502* FAILED 0 B 1.50 s " in line
    assert "RELAY-002" in line.split(" s ", 1)[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "ftp://source"], "must be https://host:port"),
        (["--upstream", "https://source/dicom-web"], "give the origin only"),
        (["--upstream", "https://source:x"], "the port is not a number"),
        (["--upstream", "https://s", "--cert", "c.pem"], "the certificate and its key go"),
        (["--upstream", "https://s", "--kos", "/etc/hostname"], "not a DICOM file"),
        (["--upstream", "https://s", "--whitelist", "/etc/hostname"], "--whitelist /etc/hostname"),
        (["--upstream", "https://s", "--crl", "/etc/hostname"], "CRL"),
        (["--upstream", "https://s", "--select", "NOPE-1"], "NOPE-1"),
        (["--upstream", "https://s", "--port", "0"], "--port"),
        (["--upstream", "https://s", "--validation-buffer", "0"], "--validation-buffer"),
    ],
)
def test_bad_input_is_one_line_without_traceback(
    bench: ProxyBench,
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DRIMLAB_HOME", str(bench.settings.home))
    assert run(["proxy", *args]) == 2
    said = capsys.readouterr()
    assert message in said.err
    assert "Traceback" not in said.err + said.out


def test_a_port_in_use_is_one_line_and_nothing_is_said_to_be_relayed(bench: ProxyBench) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _drimlab(bench, "proxy", "--upstream", "https://s", "--port", str(port))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "relaying" not in done.stdout and "Traceback" not in done.stderr
