"""The health check (`GET {base}`, Accept application/json) against the server simulator over
mutual TLS and against Orthanc's DICOMweb root."""

from __future__ import annotations

import pytest

from drimlab.simulators.consumer import RetrieveOptions
from drimlab.simulators.health import check_health
from drimlab.store.records import load_exchange
from drimlab.testing.orthanc import OrthancServer
from drimlab.validation.findings import Severity
from drimlab.validation.report import Verdict

from .conftest import Bench


def test_the_server_simulator_answers_the_health_check_over_mtls(bench: Bench) -> None:
    with bench.source():
        record = check_health(bench.store, bench.settings, RetrieveOptions(base_url=bench.base))
    report = record.report
    assert record.status == 200
    assert report.verdict is Verdict.PASSED, [f.as_dict() for f in report.findings]
    assert report.facts["kind"] == "health-check"
    assert {"HEALTH-010", "HEALTH-011"} <= set(report.rules_checked)
    assert not any(code.startswith(("WADO-RQ", "WADO-RS")) for code in report.rules_checked)
    assert "WL-021" in report.rules_checked  # the source's certificate is judged too
    exchange = load_exchange(bench.store, record.exchange_id)
    assert exchange.target == "/dicom-web"
    assert exchange.request_header("Accept") == "application/json"
    assert exchange.request_header("Authorization") is None


def test_the_health_check_defaults_to_the_base_of_the_kos(bench: Bench) -> None:
    with bench.source():
        record = check_health(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
    assert record.report.verdict is Verdict.PASSED
    assert record.url == bench.base


@pytest.mark.peer
def test_orthanc_has_no_health_check_at_its_dicomweb_root(bench: Bench) -> None:
    with OrthancServer() as orthanc:
        options = RetrieveOptions(base_url=orthanc.base_url, insecure_http=True)
        record = check_health(bench.store, bench.settings, options)
    report = record.report
    assert record.status == 404
    assert report.verdict is Verdict.FAILED
    errors = {f.rule for f in report.findings if f.severity is Severity.ERROR}
    assert errors == {"HEALTH-010"}
    assert "TLS-013" in {f.rule for f in report.findings}  # reached in plain HTTP
