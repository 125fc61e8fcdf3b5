"""`drimlab retrieve` and `drimlab probe`, called in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drimlab.cli import run

from .conftest import Bench


def test_retrieve_passes_and_prints_the_report(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    with bench.source():
        status = run(["--home", str(bench.settings.home), "retrieve", "--kos", str(bench.kos.path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PASSED" in out
    assert f"{bench.exam.series_count} retrieval(s) stored" in out


def test_retrieve_fault_exits_1_with_json_report(
    bench: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.json"
    with bench.source("truncated"):
        status = run(
            [
                "--home",
                str(bench.settings.home),
                "retrieve",
                "--kos",
                str(bench.kos.path),
                "--format",
                "json",
                "--output",
                str(target),
            ]
        )
    assert status == 1
    text = target.read_text()
    first = json.loads(text.split("\n}\n")[0] + "\n}") if "\n}\n" in text else json.loads(text)
    assert first["verdict"] == "FAILED"
    assert "WADO-RS-021" in text
    capsys.readouterr()


def test_retrieve_performance_prints_percentiles(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    with bench.source():
        status = run(
            [
                "--home",
                str(bench.settings.home),
                "retrieve",
                "--kos",
                str(bench.kos.path),
                "--repeat",
                "2",
                "--concurrency",
                "2",
            ]
        )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "time to first byte (ms)" in out and "p95" in out


def test_probe_command(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    with bench.source():
        status = run(
            [
                "--home",
                str(bench.settings.home),
                "probe",
                "--kos",
                str(bench.kos.path),
                "--burst",
                "2",
                "--concurrency",
                "2",
            ]
        )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "PASSED" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retrieve"], "give --kos FILE"),
        (["retrieve", "--base", "https://x.test", "--study", "1.2", "--level", "frame"], "level"),
        (["retrieve", "--kos", "/nonexistent.dcm"], "no such file"),
        (
            [
                "retrieve",
                "--base",
                "http://127.0.0.1:9/dw",
                "--study",
                "1.2",
                "--series",
                "1.2.3",
                "--kos-uid",
                "1.2.4",
                "--token",
                "t",
            ],
            "plain http",
        ),
        (["retrieve", "--base", "https://x.test", "--study", "1.2", "--format", "pdf"], "format"),
        (["probe", "--kos", "/nonexistent.dcm", "--burst", "-1"], "--burst"),
    ],
)
def test_unusable_input_is_one_line_and_exit_2(
    bench: Bench, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run(["--home", str(bench.settings.home), *argv])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("drimlab: error: ") and message in err
    assert "Traceback" not in err
