"""DRIM-M_CO_REQUETE_WADO with the client simulator standing in for the consumer under test."""

from __future__ import annotations

import sys
from pathlib import Path

from drimlab.cli import run
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.scenarios.runs import RunStatus, StepStatus, list_runs
from drimlab.scenarios.signing import Signer
from drimlab.store.records import load_exchange
from tests.scenarios.conftest import Bench

STAND_IN = Path(__file__).with_name("consumer_stand_in.py")


def test_co_requete_wado_runs_unattended_with_the_client_simulator(
    bench_cli: Bench, tmp_path: Path, capsys
) -> None:
    screenshot = tmp_path / "viewer.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n viewer showing the exam")
    status = run(
        [
            "scenario",
            "run",
            "DRIM-M_CO_REQUETE_WADO",
            "--auto",
            "-i",
            f"trigger={sys.executable} {STAND_IN}",
            "-i",
            "timeout=60",
            "-e",
            f"viewer-screenshot={screenshot}",
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = next(r for r in list_runs(bench_cli.store) if r.scenario_id == "DRIM-M_CO_REQUETE_WADO")
    assert done.status is RunStatus.DONE
    assert [s.status for s in done.steps] == [StepStatus.DONE] * 3
    served = done.steps[1]
    assert served.facts["trigger_exit"] == 0
    assert len(served.exchange_ids) == 1
    received = load_exchange(bench_cli.store, served.exchange_ids[0])
    assert received.origin == "server"
    assert received.request_header("KOS-SOPInstanceUID") == done.kos_sop_instance_uid
    assert received.status == 200
    # the consumer is identified by the certificate it presented
    assert "consumer.drimlab.test" in served.facts["peer"]["subject"]
    target = tmp_path / "co.zip"
    export_bundle(bench_cli.store, done.id, target, Signer.from_pki(bench_cli.env.pki))
    result = verify_bundle(target, bench_cli.env.pki.anchors())
    assert result.verdict is MonitorVerdict.VERIFIED, (result.failures, result.missing)
    assert "consumer.drimlab.test" in result.manifest["sut"]["subject"]


def test_unattended_consumer_run_needs_a_trigger(bench_cli: Bench, capsys) -> None:
    status = run(["scenario", "run", "DRIM-M_CO_REQUETE_WADO", "--auto"])
    out = capsys.readouterr()
    assert status == 1
    assert "unattended runs need the input 'trigger'" in out.out
