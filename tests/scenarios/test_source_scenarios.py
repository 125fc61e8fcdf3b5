"""Source-under-test scenarios run unattended against the server simulator as the source."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.scenarios.runs import RunStatus, StepStatus, list_runs
from tests.scenarios.conftest import Bench


def _last_run(bench: Bench, scenario_id: str):
    return next(r for r in list_runs(bench.store) if r.scenario_id == scenario_id)


def test_so_reponse_wado_runs_unattended_and_passes(
    bench_cli: Bench, source_url: str, evidence_file: Path, tmp_path: Path, capsys
) -> None:
    junit = tmp_path / "run.xml"
    status = run(
        [
            "scenario",
            "run",
            "DRIM-M_SO_REPONSE_WADO",
            "--auto",
            "--input",
            f"base_url={source_url}",
            "--evidence",
            f"source-log={evidence_file}",
            "--junit",
            str(junit),
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _last_run(bench_cli, "DRIM-M_SO_REPONSE_WADO")
    assert done.status is RunStatus.DONE
    assert [s.status for s in done.steps] == [StepStatus.DONE] * 4
    retrieve = done.steps[2]
    assert len(retrieve.report_ids) >= 1
    assert retrieve.facts["peer"]["subject"].startswith("CN=localhost")
    assert junit.read_text().count("<testcase") == 4


@pytest.mark.parametrize(
    ("scenario_id", "validations"),
    [
        ("DRIM-M_SO_REPONSE_WADO_INSTANCE", {"retrieve-instance": {200}}),
        ("DRIM-M_SO_KOS_INCONNU", {"retrieve-unknown-kos": {404}}),
        ("DRIM-M_SO_JETON", {"retrieve-without-token": {401}, "retrieve-invalid-token": {401}}),
    ],
)
def test_negative_and_instance_scenarios_see_the_expected_status(
    bench_cli: Bench, source_url: str, scenario_id: str, validations: dict, capsys
) -> None:
    status = run(["scenario", "run", scenario_id, "--auto", "-i", f"base_url={source_url}"])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _last_run(bench_cli, scenario_id)
    for step in done.steps:
        assert step.status is StepStatus.DONE, (step.step_id, step.detail)
        if step.step_id in validations:
            seen = {o["status"] for o in step.facts["observations"]}
            assert seen == validations[step.step_id]


def test_mtls_refusals_are_observed(bench_cli: Bench, source_url: str, capsys) -> None:
    status = run(
        ["scenario", "run", "DRIM-M_SO_MTLS_REFUS", "--auto", "-i", f"base_url={source_url}"]
    )
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _last_run(bench_cli, "DRIM-M_SO_MTLS_REFUS")
    refusals = {s.step_id: s.facts["observations"] for s in done.steps[2:]}
    assert set(refusals) == {"present-rogue", "present-expired", "present-unlisted"}
    for observations in refusals.values():
        assert all(o["status"] is None or o["status"] >= 400 for o in observations)


def test_a_source_that_answers_is_failed_when_a_refusal_was_expected(
    bench_cli: Bench, source_url: str, tmp_path: Path, capsys
) -> None:
    """The unlisted step fails when the source is told to accept what it should refuse."""
    from drimlab.scenarios.actions import Observation
    from drimlab.scenarios.loader import get_scenario
    from drimlab.scenarios.runner import check_expectation

    step = get_scenario("DRIM-M_SO_MTLS_REFUS").step("present-unlisted")
    answered = [Observation("x", "y", 200, "PASSED", "GET /studies/1")]
    assert check_expectation(step.expect, answered) == [
        "GET /studies/1: HTTP 200, expected a refusal"
    ]
    assert check_expectation(step.expect, []) == ["nothing was exchanged"]


# The battery's legacy-TLS probe sets TLSVersion.TLSv1 on purpose (probes.py); Python warns.
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_robustness_probes_run_as_a_scenario(bench_cli: Bench, source_url: str, capsys) -> None:
    status = run(
        ["scenario", "run", "DRIM-M_SO_ROBUSTESSE", "--auto", "-i", f"base_url={source_url}"]
    )
    out = capsys.readouterr()
    done = _last_run(bench_cli, "DRIM-M_SO_ROBUSTESSE")
    probe = done.steps[2]
    assert probe.report_ids, probe.detail
    assert len(probe.exchange_ids) > 3
    assert status == 0, out.out + out.err


def test_whitelist_scenario_hands_out_lists_that_really_fail(
    bench_cli: Bench, tmp_path: Path, capsys
) -> None:
    from drimlab.trust.whitelist_check import verify_whitelist

    statement = tmp_path / "refusal.png"
    statement.write_bytes(b"\x89PNG\r\n\x1a\n screenshot of the refusal")
    status = run(
        [
            "scenario",
            "run",
            "DRIM-M_LISTE_BLANCHE_REFUS",
            "--auto",
            "-e",
            f"corrupted-refused={statement}",
            "-e",
            f"unsigned-refused={statement}",
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _last_run(bench_cli, "DRIM-M_LISTE_BLANCHE_REFUS")
    home = bench_cli.settings.home
    anchors = bench_cli.env.pki.anchors()
    genuine = verify_whitelist(bench_cli.env.whitelist_path, anchors=anchors, expected=None)
    assert genuine.ok
    codes = {}
    for step in (done.steps[0], done.steps[2]):
        (handed,) = step.evidence
        assert handed.origin == "drimlab"
        result = verify_whitelist(home / handed.path, anchors=anchors, expected=None)
        assert not result.ok
        codes[step.step_id] = {f.rule for f in result.findings}
    assert codes["provide-unsigned"] != codes["provide-corrupted"]
    assert "whitelist-corrupted.xml" in out.out


def test_a_scenario_judges_with_the_rules_it_was_run_with(
    bench_cli: Bench, source_url: str, capsys
) -> None:
    from drimlab.store.records import load_report

    args = ["scenario", "run", "DRIM-M_SO_REPONSE_WADO_INSTANCE", "--auto"]
    status = run([*args, "-i", f"base_url={source_url}", "--severity", "DRIM-021=info"])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = _last_run(bench_cli, "DRIM-M_SO_REPONSE_WADO_INSTANCE")
    report_ids = [r for s in done.steps for r in s.report_ids]
    assert report_ids
    for report_id in report_ids:
        selection = load_report(bench_cli.store, report_id).facts["selection"]
        assert selection["severities"] == {"DRIM-021": "info"}
    assert run([*args, "-i", f"base_url={source_url}", "--ignore", "NOPE-001"]) == 2
