"""Evidence bundles: export, the monitor's VERIFIED verdict, and every kind of tampering."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.loader import get_scenario
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.scenarios.runner import drive_run, start_run
from drimlab.scenarios.runs import RunState, update_step
from drimlab.scenarios.signing import Signer
from drimlab.trust.pki import Pki
from tests.scenarios.conftest import Bench

SCENARIO = "DRIM-M_SO_REPONSE_WADO"


class Quiet:
    """A prompter for unattended runs: keeps what it was told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str) -> None:
        self.lines.append(text)

    def ask(self, prompt: str) -> str | None:
        raise AssertionError(f"an unattended run asked: {prompt}")


def run_source_scenario(bench: Bench, source_url: str, evidence: Path) -> RunState:
    scenario = get_scenario(SCENARIO, bench.settings)
    started = start_run(
        bench.store, bench.settings, scenario, {"base_url": source_url}, interactive=False
    )
    outcome = drive_run(
        bench.store,
        bench.settings,
        scenario,
        started.id,
        Quiet(),
        interactive=False,
        evidence={"source-log": [evidence]},
    )
    return outcome.run


@pytest.fixture(scope="module")
def bundle(
    bench: Bench, source_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, RunState]:
    folder = tmp_path_factory.mktemp("bundle")
    log = folder / "source.log"
    log.write_text("200 OK for every series\n", encoding="utf-8")
    done = run_source_scenario(bench, source_url, log)
    target = folder / "evidence.zip"
    export_bundle(bench.store, done.id, target, Signer.from_pki(bench.env.pki))
    return target, done


def anchors(bench: Bench) -> list:
    return bench.env.pki.anchors()


def rewrite(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """Copy a zip, passing each member through `change` (None drops it)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = change(name, old.read(name))
            if data is not None:
                new.writestr(name, data)
    return target


def test_a_fresh_bundle_is_verified(bench: Bench, bundle: tuple[Path, RunState]) -> None:
    path, done = bundle
    result = verify_bundle(path, anchors(bench))
    assert result.failures == ()
    assert result.missing == ()
    assert result.verdict is MonitorVerdict.VERIFIED
    manifest = result.manifest
    assert manifest is not None
    assert manifest["run"]["id"] == done.id
    assert manifest["sut"]["subject"].startswith("CN=localhost")
    assert manifest["exam"]["study_instance_uid"] == done.study_instance_uid
    assert any("re-validated: same findings" in c for c in result.checks)
    assert any("kept part(s) match their report's SHA-256" in c for c in result.checks)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    report_id = done.steps[2].report_ids[0]
    for suffix in ("json", "html", "gazelle.json", "gazelle.xml"):
        assert f"reports/{report_id}.{suffix}" in names
    assert {"manifest.json", "manifest.sig", "signer.pem", "summary.html"} <= names


def test_changing_one_byte_of_any_file_fails_with_its_name(
    bench: Bench, bundle: tuple[Path, RunState], tmp_path: Path
) -> None:
    path, _ = bundle
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n not in ("manifest.sig", "signer.pem")]
    # one file of each kind (first and last of a folder), to keep the test light
    kinds: dict[str, list[str]] = {}
    for name in names:
        kinds.setdefault(name.split("/")[0], []).append(name)
    chosen = sorted({n for group in kinds.values() for n in (group[0], group[-1])})
    assert {"parts", "reports", "exchanges", "evidence", "kos", "manifest.json"} <= set(kinds)
    for index, victim in enumerate(chosen):

        def flip(name: str, data: bytes, victim: str = victim) -> bytes:
            if name != victim:
                return data
            middle = len(data) // 2
            return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]

        result = verify_bundle(rewrite(path, tmp_path / f"t{index}.zip", flip), anchors(bench))
        assert result.verdict is MonitorVerdict.FAILED, victim
        if victim == "manifest.json":
            assert any(
                "signature does not verify" in f or "not valid JSON" in f for f in result.failures
            ), result.failures
        else:
            assert any(f.startswith(f"{victim}: SHA-256") for f in result.failures), (
                victim,
                result.failures,
            )


def test_a_changed_signature_or_foreign_signer_fails(
    bench: Bench, bundle: tuple[Path, RunState], tmp_path: Path
) -> None:
    path, _ = bundle

    def bad_signature(name: str, data: bytes) -> bytes:
        return b"AAAA" + data[4:] if name == "manifest.sig" else data

    result = verify_bundle(rewrite(path, tmp_path / "sig.zip", bad_signature), anchors(bench))
    assert result.verdict is MonitorVerdict.FAILED
    assert [f.split(" ")[0] for f in result.failures] == ["EVIDENCE-002"]
    assert "the manifest signature does not verify" in result.failures[0]
    stranger = Pki.init(tmp_path / "other-pki")
    result = verify_bundle(path, stranger.anchors())
    assert result.verdict is MonitorVerdict.FAILED
    assert any(
        f.startswith("EVIDENCE-005") and "does not chain to the monitor's anchors" in f
        for f in result.failures
    ), result.failures


def test_removing_an_evidence_file_is_partially_verified(
    bench: Bench, bundle: tuple[Path, RunState], tmp_path: Path
) -> None:
    path, _ = bundle
    with zipfile.ZipFile(path) as archive:
        victim = next(n for n in archive.namelist() if n.startswith("evidence/source-log/"))
    result = verify_bundle(
        rewrite(path, tmp_path / "gone.zip", lambda n, d: None if n == victim else d),
        anchors(bench),
    )
    assert result.verdict is MonitorVerdict.PARTIALLY_VERIFIED
    assert f"evidence file {victim} of step source-log is missing" in result.missing
    assert "step source-log: evidence 'source-log' is missing" in result.missing


def test_removing_a_report_fails(
    bench: Bench, bundle: tuple[Path, RunState], tmp_path: Path
) -> None:
    path, done = bundle
    victim = f"reports/{done.steps[2].report_ids[0]}.json"
    result = verify_bundle(
        rewrite(path, tmp_path / "noreport.zip", lambda n, d: None if n == victim else d),
        anchors(bench),
    )
    assert result.verdict is MonitorVerdict.FAILED
    assert f"{victim} is listed in the manifest but missing from the bundle" in result.failures


def test_a_report_about_another_exam_fails_even_when_signed(
    bench: Bench, source_url: str, bundle: tuple[Path, RunState], tmp_path: Path
) -> None:
    """A run whose VALIDATION step holds a report about another exam, exported and signed."""
    _, done = bundle
    other = run_source_scenario_on_other_exam(bench, source_url, tmp_path, done)
    scenario_run = other
    swapped = list(done.steps[2].report_ids)
    update_step(
        bench.store,
        scenario_run.id,
        2,
        report_ids=swapped,
        exchange_ids=list(done.steps[2].exchange_ids),
    )
    target = tmp_path / "swapped.zip"
    export_bundle(bench.store, scenario_run.id, target, Signer.from_pki(bench.env.pki))
    result = verify_bundle(target, anchors(bench))
    assert result.verdict is MonitorVerdict.FAILED
    assert any(
        f"is about study {done.study_instance_uid}, not the scenario's exam "
        f"{scenario_run.study_instance_uid}" in f
        for f in result.failures
    ), result.failures


def run_source_scenario_on_other_exam(
    bench: Bench, source_url: str, tmp_path: Path, first: RunState
) -> RunState:
    from drimlab.datasets.catalog import list_exams

    exam = next(
        e for e in list_exams(bench.store) if e.study_instance_uid != first.study_instance_uid
    )
    scenario = get_scenario(SCENARIO, bench.settings)
    log = tmp_path / "other.log"
    log.write_text("log\n", encoding="utf-8")
    started = start_run(
        bench.store,
        bench.settings,
        scenario,
        {"base_url": source_url, "exam": exam.name},
        interactive=False,
    )
    return drive_run(
        bench.store,
        bench.settings,
        scenario,
        started.id,
        Quiet(),
        interactive=False,
        evidence={"source-log": [log]},
    ).run


def test_cli_export_and_verify(
    bench_cli: Bench, bundle: tuple[Path, RunState], tmp_path: Path, capsys
) -> None:
    _, done = bundle
    target = tmp_path / "cli.zip"
    assert run(["evidence", "export", done.id[:8], str(target)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {target} (")
    html = tmp_path / "monitor.html"
    assert run(["evidence", "verify", str(target), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"VERIFIED  {target}")
    assert "VERIFIED" in html.read_text(encoding="utf-8")
    assert run(["evidence", "verify", str(target), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "VERIFIED"
    broken = rewrite(
        target,
        tmp_path / "broken.zip",
        lambda n, d: None if n.startswith("evidence/") else d,
    )
    assert run(["evidence", "verify", str(broken)]) == 3
    assert "MISSING: evidence file evidence/source-log/" in capsys.readouterr().out


def test_cli_refuses_what_is_not_a_bundle(bench_cli: Bench, tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert run(["evidence", "verify", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drimlab: error: ") and "not a zip evidence bundle" in err
    assert run(["evidence", "export", "no-such-run", str(tmp_path / "x.zip")]) == 2
    assert "no scenario run 'no-such-run'" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_stored_report_that_disagrees_with_its_exchange_fails(
    bench: Bench, source_url: str, tmp_path: Path
) -> None:
    """A report edited in the store (a finding its exchange does not produce), then exported."""
    from drimlab.store.models import ReportRecord

    log = tmp_path / "source.log"
    log.write_text("log\n", encoding="utf-8")
    done = run_source_scenario(bench, source_url, log)
    report_id = done.steps[2].report_ids[0]
    with bench.store.session() as session:
        row = session.get(ReportRecord, report_id)
        assert row is not None
        data = dict(row.data)
        rule = data["rules_checked"][0]
        data["findings"] = [
            *data["findings"],
            {"rule": rule, "severity": "warning", "message": "planted", "location_detail": {}},
        ]
        row.data = data
    target = tmp_path / "planted.zip"
    export_bundle(bench.store, done.id, target, Signer.from_pki(bench.env.pki))
    result = verify_bundle(target, anchors(bench))
    assert result.verdict is MonitorVerdict.FAILED
    assert any(
        f"report {report_id} disagrees with a re-validation of its exchange: {rule} "
        "(stored: warning; now: none)" in f
        for f in result.failures
    ), result.failures


def test_an_unattended_run_without_its_evidence_is_partially_verified(
    bench: Bench, source_url: str, tmp_path: Path
) -> None:
    from drimlab.scenarios.junit import render_run_junit
    from drimlab.scenarios.runs import RunStatus, StepStatus

    scenario = get_scenario(SCENARIO, bench.settings)
    started = start_run(
        bench.store, bench.settings, scenario, {"base_url": source_url}, interactive=False
    )
    done = drive_run(
        bench.store, bench.settings, scenario, started.id, Quiet(), interactive=False
    ).run
    assert done.status is RunStatus.DONE
    assert done.steps[3].status is StepStatus.SKIPPED
    junit = render_run_junit(scenario, done)
    assert '<skipped message="no evidence for: source-log"' in junit
    assert 'tests="4" failures="0" errors="0" skipped="1"' in junit
    target = tmp_path / "partial.zip"
    export_bundle(bench.store, done.id, target, Signer.from_pki(bench.env.pki))
    result = verify_bundle(target, anchors(bench))
    assert result.verdict is MonitorVerdict.PARTIALLY_VERIFIED
    assert result.missing == ("step source-log was skipped (no evidence for: source-log)",)
