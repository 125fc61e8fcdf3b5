"""The scenarios of the ANS dry run, unattended against the server simulator as the source:
the health check first, then study, frames and both preference lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.scenarios.runs import RunStatus, StepStatus, list_runs
from drimlab.store.records import load_exchange, load_report
from tests.scenarios.conftest import Bench


def _done(bench: Bench, scenario_id: str):
    found = next(r for r in list_runs(bench.store) if r.scenario_id == scenario_id)
    assert found.status is RunStatus.DONE, [(s.step_id, s.detail) for s in found.steps]
    return found


def test_the_health_check_scenario_runs_unattended(
    bench_cli: Bench, source_url: str, capsys
) -> None:
    status = run(["scenario", "run", "DRIM-M_SO_SANTE", "--auto", "-i", f"base_url={source_url}"])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _done(bench_cli, "DRIM-M_SO_SANTE")
    health = next(s for s in done.steps if s.step_id == "health-check")
    assert health.status is StepStatus.DONE
    assert [o["status"] for o in health.facts["observations"]] == [200]
    exchange = load_exchange(bench_cli.store, health.exchange_ids[0])
    assert exchange.method == "GET" and exchange.target == "/dicom-web"
    assert exchange.request_header("Accept") == "application/json"
    report = load_report(bench_cli.store, health.report_ids[0])
    assert report.facts["kind"] == "health-check" and report.verdict.value == "PASSED"


@pytest.mark.parametrize(
    ("scenario_id", "retrievals"),
    [
        ("DRIM-M_SO_REPONSE_WADO_ETUDE", ("retrieve-study",)),
        ("DRIM-M_SO_REPONSE_WADO_FRAMES", ("retrieve-frames",)),
        ("DRIM-M_SO_PREFERENCE_SYNTAXE", ("retrieve-lossless-first", "retrieve-lossy-first")),
    ],
)
def test_the_level_and_preference_scenarios_run_unattended(
    bench_cli: Bench,
    source_url: str,
    evidence_file: Path,
    scenario_id: str,
    *,
    retrievals: tuple[str, ...],
    capsys,
) -> None:
    argv = ["scenario", "run", scenario_id, "--auto", "-i", f"base_url={source_url}"]
    if scenario_id.endswith("_ETUDE"):
        argv += ["-e", f"source-log={evidence_file}"]
    status = run(argv)
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _done(bench_cli, scenario_id)
    steps = {s.step_id: s for s in done.steps}
    assert steps["health-check"].status is StepStatus.DONE
    validations = [s.step_id for s in done.steps if s.facts.get("observations") is not None]
    assert validations[0] == "health-check"  # the client simulator's first request
    for step_id in retrievals:
        step = steps[step_id]
        assert step.status is StepStatus.DONE, step.detail
        assert {o["status"] for o in step.facts["observations"]} == {200}
    if scenario_id.endswith("_FRAMES"):
        frames = load_exchange(bench_cli.store, steps["retrieve-frames"].exchange_ids[0])
        assert (frames.target or "").endswith("/frames/1")
    if scenario_id.endswith("_SYNTAXE"):
        sent = {
            load_exchange(bench_cli.store, steps[s].exchange_ids[0]).request_header("Accept")
            for s in retrievals
        }
        assert len(sent) == 2  # two different preference orders
