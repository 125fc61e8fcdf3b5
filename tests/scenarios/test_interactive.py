"""Interactive runs driven through standard input: prompts, evidence upload, stop and resume."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.scenarios.runs import RunStatus, StepStatus, list_runs, load_run
from tests.scenarios.conftest import Bench

SCENARIO = "DRIM-M_SO_REPONSE_WADO"


def _feed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_an_interrupted_run_resumes_where_it_stopped(
    bench_cli: Bench,
    source_url: str,
    evidence_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    # The user confirms the first instruction, then the input ends (terminal closed).
    _feed(monkeypatch, "\n")
    status = run(["scenario", "run", SCENARIO, "--lang", "fr", "-i", f"base_url={source_url}"])
    out = capsys.readouterr().out
    assert status == 3
    assert "Chargez l’examen" in out
    stopped = next(r for r in list_runs(bench_cli.store) if r.scenario_id == SCENARIO)
    assert stopped.status is RunStatus.RUNNING
    assert [s.status for s in stopped.steps] == [
        StepStatus.DONE,
        StepStatus.WAITING,
        StepStatus.WAITING,
        StepStatus.WAITING,
    ]
    assert f"drimlab scenario resume {stopped.id}" in out

    # Resumed: confirm the second instruction, the validation runs by itself, a wrong path
    # is asked again, then the evidence file is handed in.
    missing = evidence_file.parent / "nope.log"
    _feed(monkeypatch, f"\n{missing}\n{evidence_file}\n")
    status = run(["scenario", "resume", stopped.id[:8]])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Chargez" not in out  # the settled step is not asked again
    assert "Configurez la source" in out
    assert f"evidence file {missing} does not exist" in out
    finished = load_run(bench_cli.store, stopped.id)
    assert finished.status is RunStatus.DONE
    assert [s.status for s in finished.steps] == [StepStatus.DONE] * 4
    assert finished.steps[3].evidence[0].original == evidence_file.name
    assert finished.steps[2].report_ids

    # A finished run cannot be resumed.
    assert run(["scenario", "resume", stopped.id]) == 2
    assert "already finished (done)" in capsys.readouterr().err


def test_stop_and_skip_answers(
    bench_cli: Bench, source_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _feed(monkeypatch, "s\n\nq\n")
    status = run(["scenario", "run", SCENARIO, "-i", f"base_url={source_url}"])
    assert status == 3
    capsys.readouterr()
    stopped = next(r for r in list_runs(bench_cli.store) if r.scenario_id == SCENARIO)
    assert [s.status for s in stopped.steps][:3] == [
        StepStatus.SKIPPED,
        StepStatus.DONE,
        StepStatus.DONE,
    ]
    assert stopped.steps[3].status is StepStatus.WAITING
    _feed(monkeypatch, "s\n")
    assert run(["scenario", "resume", stopped.id]) == 0
    out = capsys.readouterr().out
    assert "2 done, 2 skipped" in out


def test_bad_inputs_are_one_line_errors(bench_cli: Bench, tmp_path: Path, capsys) -> None:
    assert run(["scenario", "run", "NOPE_NOPE", "--auto"]) == 2
    assert "unknown scenario 'NOPE_NOPE'" in capsys.readouterr().err
    assert run(["scenario", "run", SCENARIO, "--auto"]) == 2
    assert "needs the input base_url or kos_file" in capsys.readouterr().err
    assert run(["scenario", "run", SCENARIO, "--auto", "-i", "colour=blue"]) == 2
    assert "unknown input(s) colour" in capsys.readouterr().err
    assert run(["scenario", "run", SCENARIO, "--auto", "-i", "base_url"]) == 2
    assert "use NAME=VALUE" in capsys.readouterr().err
    bad = tmp_path / "inputs.yaml"
    bad.write_text("inputs: [1, 2\n", encoding="utf-8")
    assert run(["scenario", "run", SCENARIO, "--auto", "--inputs", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drimlab: error: ") and "not valid YAML" in err
    assert run(["scenario", "resume", "0000-not-a-run"]) == 2
    assert "no scenario run '0000-not-a-run'" in capsys.readouterr().err


def test_inputs_file_gives_inputs_and_evidence(
    bench_cli: Bench, source_url: str, evidence_file: Path, tmp_path: Path, capsys
) -> None:
    given = tmp_path / "ci.yaml"
    given.write_text(
        f"inputs:\n  base_url: {source_url}\n  profile: drim-m\n"
        f"evidence:\n  source-log: {evidence_file}\n",
        encoding="utf-8",
    )
    status = run(["scenario", "run", SCENARIO, "--auto", "--inputs", str(given)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "4 done" in out


def test_an_interactive_run_asks_for_the_source_url(
    bench_cli: Bench, source_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _feed(monkeypatch, f"{source_url}\nq\n")
    assert run(["scenario", "run", "DRIM-M_SO_KOS_INCONNU"]) == 3
    out = capsys.readouterr().out
    assert "base_url (WADO-RS base URL of the source under test): " in out
    stopped = next(
        r for r in list_runs(bench_cli.store) if r.scenario_id == "DRIM-M_SO_KOS_INCONNU"
    )
    assert stopped.inputs["base_url"] == source_url
