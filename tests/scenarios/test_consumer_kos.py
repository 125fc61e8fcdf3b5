"""DRIM-M_CO_REQUETE_WADO hands the consumer a KOS for the run's own server simulator, and
every step text is filled (issue 17)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.datasets.catalog import exam_kos, find_kos
from drimlab.documents.kos import read_kos
from drimlab.scenarios.runs import RunStatus, list_runs
from tests.scenarios.conftest import Bench

STAND_IN = Path(__file__).with_name("consumer_stand_in.py")
SCENARIO = "DRIM-M_CO_REQUETE_WADO"


def _run(tmp_path: Path, *extra: str) -> list[str]:
    screenshot = tmp_path / "viewer.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n viewer")
    return [
        "scenario", "run", SCENARIO, "--auto",
        "-i", f"trigger={sys.executable} {STAND_IN} --from-kos",
        "-i", "timeout=60",
        "-e", f"viewer-screenshot={screenshot}",
        *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_consumer_reads_a_kos_pointing_at_the_scenario_server(
    bench_cli: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str], lang: str
) -> None:
    status = run(_run(tmp_path, "--lang", lang))
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    assert "{" not in out.out, out.out  # every placeholder of every step text is filled
    done = next(r for r in list_runs(bench_cli.store) if r.scenario_id == SCENARIO)
    assert done.status is RunStatus.DONE
    served = done.steps[1]
    server_url = served.facts["server_url"]
    assert server_url in out.out
    assert server_url != "https://localhost:8443/dicom-web"
    kos = find_kos(bench_cli.store, done.kos_sop_instance_uid)
    assert kos is not None and kos.retrieve_base_url == server_url
    assert all(
        s.retrieve_url.startswith(f"{server_url}/studies/") for s in read_kos(kos.path).series
    )
    assert served.facts["trigger_exit"] == 0  # the stand-in found the server through the KOS


def test_repeated_runs_reuse_the_port_and_kos_of_an_earlier_run(
    bench_cli: Bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        assert run(_run(tmp_path)) == 0
    capsys.readouterr()
    runs = [r for r in list_runs(bench_cli.store) if r.scenario_id == SCENARIO][:2]
    assert runs[0].kos_sop_instance_uid == runs[1].kos_sop_instance_uid
    built = [
        k for k in exam_kos(bench_cli.store, runs[0].study_instance_uid) if k.origin == "built"
    ]
    assert len({k.retrieve_base_url for k in built}) <= 2  # the dataset's own and this run's


# What the runner puts in every run's values (besides the scenario's inputs), and what the
# actions add: a step text naming anything else would print a raw `{placeholder}`.
RUN_VALUES = {"dataset", "exam", "study_uid", "kos_uid", "kos_path", "pki_bundle", "whitelist"}
RUN_VALUES |= {"consumer_cert"}
ACTION_VALUES = {"serve": {"server_url"}, "whitelist": {"artifact"}}


def test_every_placeholder_of_every_shipped_step_text_has_a_value() -> None:
    import string

    from drimlab.scenarios.loader import load_all

    for scenario in load_all().values():
        known = RUN_VALUES | {i.name for i in scenario.inputs}
        for step in scenario.steps:
            if step.action is not None:
                known |= ACTION_VALUES.get(step.action, set())
        serving = any(s.action == "serve" for s in scenario.steps)
        if serving:
            known |= ACTION_VALUES["serve"]  # fixed when the run starts: every step may use it
        for step in scenario.steps:
            for text in (step.text.fr, step.text.en):
                names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
                assert names <= known, (scenario.id, step.id, names - known)
