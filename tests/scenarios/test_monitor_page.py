"""The monitor page shows each report's verdict and how it travelled; a plain-HTTP debugging run
is never VERIFIED; an altered evidence file is a failure, not also "missing" (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.loader import get_scenario
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.scenarios.runner import drive_run, start_run
from drimlab.scenarios.signing import Signer
from drimlab.scenarios.transport import Transport
from drimlab.simulators.serve import SourceOptions, source_in_thread
from tests.scenarios.conftest import Bench
from tests.scenarios.test_evidence import SCENARIO, Quiet, anchors, rewrite


@pytest.fixture(scope="module")
def plain_source(bench: Bench) -> Iterator[str]:
    """The server simulator in plain HTTP (--insecure-http), standing in for a source."""
    options = SourceOptions(port=0, crl_port=None, insecure_http=True)
    with source_in_thread(bench.store, bench.env, options) as (_setup, server):
        yield f"http://localhost:{server.port}{options.base_path}"


def _bundle(bench: Bench, inputs: dict[str, str], folder: Path) -> Path:
    scenario = get_scenario(SCENARIO, bench.settings)
    log = folder / "source.log"
    log.write_text("200 OK\n", encoding="utf-8")
    started = start_run(bench.store, bench.settings, scenario, inputs, interactive=False)
    done = drive_run(
        bench.store, bench.settings, scenario, started.id, Quiet(), interactive=False,
        evidence={"source-log": [log]},
    ).run  # fmt: skip
    target = folder / "evidence.zip"
    export_bundle(bench.store, done.id, target, Signer.from_pki(bench.env.pki))
    return target


def test_a_plain_http_run_is_not_verified_and_its_page_says_why(
    bench_cli: Bench, plain_source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(bench_cli, {"base_url": plain_source, "insecure_http": "true"}, tmp_path)
    result = verify_bundle(bundle, anchors(bench_cli))
    assert result.verdict is MonitorVerdict.PARTIALLY_VERIFIED, (result.failures, result.missing)
    assert not result.failures
    assert any("plain HTTP" in m for m in result.missing)
    assert result.reports and {r.transport for r in result.reports} == {Transport.PLAIN_HTTP}
    assert {r.verdict for r in result.reports} == {"PASSED"}
    for lang, says in (("en", "plain HTTP (debugging)"), ("fr", "HTTP en clair (mise au point)")):
        page = tmp_path / f"monitor-{lang}.html"
        assert run(["evidence", "verify", str(bundle), "--html", str(page), "--lang", lang]) == 3
        html = page.read_text(encoding="utf-8")
        assert f'<html lang="{lang}">' in html
        assert says in html
        assert "cannot be VERIFIED" in html or "ne peut pas être VERIFIED" in html
        assert html.count('class="PASSED">PASSED') == len(result.reports)
    out = capsys.readouterr().out
    assert "plain-http" in out


def test_a_mutual_tls_run_is_verified_and_its_page_names_the_tls_version(
    bench_cli: Bench, source_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(bench_cli, {"base_url": source_url}, tmp_path)
    result = verify_bundle(bundle, anchors(bench_cli))
    assert result.verdict is MonitorVerdict.VERIFIED, (result.failures, result.missing)
    assert {r.transport for r in result.reports} == {Transport.MUTUAL_TLS}
    assert all(r.tls_version and r.tls_version.startswith("TLS") for r in result.reports)
    page = tmp_path / "monitor.html"
    assert run(["evidence", "verify", str(bundle), "--html", str(page), "--lang", "fr"]) == 0
    html = page.read_text(encoding="utf-8")
    assert "TLS mutuel" in html and "Rapports" in html
    assert "HTTP en clair" not in html
    assert run(["evidence", "verify", str(bundle), "--lang", "de"]) == 2
    assert "choose fr or en" in capsys.readouterr().err


def test_an_altered_evidence_file_is_a_failure_not_a_missing_file(
    bench: Bench, source_url: str, tmp_path: Path
) -> None:
    bundle = _bundle(bench, {"base_url": source_url}, tmp_path)
    altered = rewrite(
        bundle,
        tmp_path / "altered.zip",
        lambda n, d: b"edited afterwards\n" if n.startswith("evidence/source-log/") else d,
    )
    result = verify_bundle(altered, anchors(bench))
    assert result.verdict is MonitorVerdict.FAILED
    assert any("(the file was altered)" in f for f in result.failures)
    assert not any("source-log" in m for m in result.missing), result.missing
