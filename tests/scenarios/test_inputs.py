"""A scenario's inputs and evidence files are checked before a run is stored (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.scenarios.runs import list_runs
from tests.scenarios.conftest import Bench

SOURCE = "DRIM-M_SO_REPONSE_WADO"
CONSUMER = "DRIM-M_CO_REQUETE_WADO"


@pytest.mark.parametrize(
    ("scenario", "value", "says"),
    [
        (SOURCE, "base_url=notaurl", "not an http(s) URL"),
        (SOURCE, "base_url=https://", "not an http(s) URL"),
        (SOURCE, "base_url=https://host:99999/dicom-web", "port"),
        (SOURCE, "base_url=https://host/dicom-web/studies/1.2", "everything before /studies"),
        (SOURCE, "base_url=http://host/dicom-web", "insecure_http=true"),
        (SOURCE, "profile=strict", "unknown profile"),
        (SOURCE, "kos_uid=not-a-uid", "not a DICOM UID"),
        (SOURCE, "ca=/nonexistent/ca.pem", "no such file"),
        (SOURCE, "insecure_http=maybe", "not true or false"),
        (CONSUMER, "port=99999", "not a TCP port"),
        (CONSUMER, "timeout=-3", "more than 0"),
        (CONSUMER, "timeout=soon", "not a number"),
        (CONSUMER, "trigger='unclosed", "not a command line"),
    ],
)
def test_a_bad_input_is_refused_in_one_line_and_no_run_is_stored(
    bench_cli: Bench, capsys: pytest.CaptureFixture[str], scenario: str, value: str, says: str
) -> None:
    before = len(list_runs(bench_cli.store))
    assert run(["scenario", "run", scenario, "--auto", "-i", value]) == 2
    out = capsys.readouterr()
    (line,) = out.err.strip().splitlines()
    assert line.startswith(f"drimlab: error: {scenario}: input {value.split('=', maxsplit=1)[0]} ")
    assert says in line
    assert len(list_runs(bench_cli.store)) == before


def test_evidence_for_no_step_or_a_missing_file_is_refused_before_the_run(
    bench_cli: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = "base_url=https://localhost:1/dicom-web"
    before = len(list_runs(bench_cli.store))
    assert run(["scenario", "run", SOURCE, "--auto", "-i", base, "-e", "nope=x"]) == 2
    assert "no PREUVE step or evidence named 'nope'" in capsys.readouterr().err
    missing = tmp_path / "absent.log"
    assert (
        run(["scenario", "run", SOURCE, "--auto", "-i", base, "-e", f"source-log={missing}"]) == 2
    )
    assert f"evidence source-log {missing}: no such file" in capsys.readouterr().err
    assert len(list_runs(bench_cli.store)) == before


def test_a_binary_inputs_file_is_one_line(
    bench_cli: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "ci.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert run(["scenario", "run", SOURCE, "--auto", "--inputs", str(binary)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"drimlab: error: {binary}: not a text file (expected YAML or JSON in UTF-8)"


@pytest.mark.parametrize(
    "argv",
    [
        ["scenario", "list", "--lang", "de"],
        ["scenario", "show", SOURCE, "--lang", "de"],
        ["scenario", "run", SOURCE, "--lang", "de", "-i", "base_url=https://localhost:1/x"],
    ],
)
def test_an_unknown_language_is_refused(
    bench_cli: Bench, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.strip().splitlines()
    assert "Invalid value for '--lang': 'de': choose fr or en" in line
