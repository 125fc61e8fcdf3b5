"""Profiles, --select, --ignore and --severity reach every rule, from retrieve and probe too.

TLS-013 (exchange without TLS) is judged from the TLS facts of the connection, like any rule:
ignoring it or raising its severity visibly changes a retrieval's, a probe battery's and the
server simulator's own reports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from drimlab.cli import run
from drimlab.simulators.consumer import RetrieveOptions, retrieve, run_probes
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.validation.assess import Selection
from drimlab.validation.findings import Severity
from drimlab.validation.report import Report, Verdict

from .conftest import Bench


@contextmanager
def _plain_source(bench: Bench, selection: Selection | None = None) -> Iterator[list[Report]]:
    """The server simulator in plain HTTP on the bench's port; yields its recorded reports."""
    options = SourceOptions(port=bench.port, crl_port=None, insecure_http=True, selection=selection)
    reports: list[Report] = []
    with source_in_thread(bench.store, bench.env, options) as (setup, _):
        yield reports
        setup.recorder.close()
        reports += [r.report for r in setup.recorder.recorded]


def _options(bench: Bench, selection: Selection | None = None) -> RetrieveOptions:
    return RetrieveOptions(
        kos_path=bench.kos.path,
        base_url=f"http://localhost:{bench.port}/dicom-web",
        insecure_http=True,
        selection=selection,
    )


def _documents(text: str) -> list[dict[str, object]]:
    """The JSON reports a command printed one after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        if text[at] != "{":  # the closing summary line
            break
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def _codes(report: Report) -> dict[str, str]:
    return {f.rule: f.severity.value for f in report.findings}


def test_ignore_and_severity_change_a_retrieval_report(bench: Bench) -> None:
    with _plain_source(bench):
        default = retrieve(bench.store, bench.settings, _options(bench)).records[0].report
        ignored = (
            retrieve(bench.store, bench.settings, _options(bench, Selection.of(ignore=["TLS-013"])))
            .records[0]
            .report
        )
        raised = (
            retrieve(
                bench.store,
                bench.settings,
                _options(bench, Selection.of(severities=["TLS-013=error"])),
            )
            .records[0]
            .report
        )
    assert _codes(default).get("TLS-013") == "warning"
    assert default.verdict is Verdict.PASSED
    assert "TLS-013" not in _codes(ignored) and "TLS-013" not in ignored.rules_checked
    assert _codes(raised)["TLS-013"] == "error"
    assert raised.verdict is Verdict.FAILED
    assert raised.facts["selection"]["severities"] == {"TLS-013": "error"}


def test_ignore_and_severity_change_a_probe_report(bench: Bench) -> None:
    with _plain_source(bench):
        _, default = run_probes(bench.store, bench.settings, _options(bench), burst=0)
        _, ignored = run_probes(
            bench.store,
            bench.settings,
            _options(bench, Selection.of(ignore=["TLS-013"])),
            burst=0,
        )
        _, raised = run_probes(
            bench.store,
            bench.settings,
            _options(bench, Selection.of(severities=["TLS=error"])),
            burst=0,
        )
    assert _codes(default).get("TLS-013") == "warning"
    assert "TLS-013" not in _codes(ignored)
    assert _codes(raised).get("TLS-013") == "error"
    assert raised.verdict is Verdict.FAILED
    # the probes themselves are unchanged by a selection about another family
    probes = [(e["rule"], e["result"]) for e in default.facts["probes"]]
    assert probes == [(e["rule"], e["result"]) for e in ignored.facts["probes"]]


def test_the_server_simulator_judges_with_its_selection(bench: Bench) -> None:
    with _plain_source(bench, Selection.of(ignore=["TLS-013"])) as recorded:
        retrieve(bench.store, bench.settings, _options(bench))
    assert recorded
    assert all("TLS-013" not in _codes(r) for r in recorded)
    assert all(r.facts["selection"]["ignore"] == ["TLS-013"] for r in recorded)


def test_cli_retrieve_takes_ignore_and_severity(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "--home",
        str(bench.settings.home),
        "retrieve",
        "--kos",
        str(bench.kos.path),
        "--base",
        f"http://localhost:{bench.port}/dicom-web",
        "--insecure-http",
        "--format",
        "json",
    ]
    with _plain_source(bench):
        capsys.readouterr()
        assert run([*base, "--severity", "TLS-013=error"]) == 1
        raised = capsys.readouterr().out
        assert run([*base, "--ignore", "TLS-013"]) == 0
        ignored = capsys.readouterr().out
    raised_reports = _documents(raised)
    assert raised_reports
    for report in raised_reports:
        found = [(f["rule"], f["severity"]) for f in report["findings"]]  # type: ignore[index, union-attr]
        assert ("TLS-013", "error") in found
    for report in _documents(ignored):
        assert report["verdict"] == "PASSED"
        assert "TLS-013" not in [f["rule"] for f in report["findings"]]
        assert "TLS-013" not in report["rules_checked"]
    assert run([*base, "--severity", "TLS-013=fatal"]) == 2
    assert "not error, warning or info" in capsys.readouterr().err
    assert run([*base, "--ignore", "NOPE-001"]) == 2


def test_severity_override_needs_a_known_rule() -> None:
    with pytest.raises(Exception, match="no rule code or prefix"):
        Selection.of(severities=["NOPE-001=error"])
    assert Selection.of(severities=["TLS-013=info"]).severities["TLS-013"] is Severity.INFO
    json.dumps(Selection.of(ignore=["TLS"]).as_dict())
