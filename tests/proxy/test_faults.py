"""`drimlab retrieve` -> proxy -> `drimlab serve --fault NAME`: for every fault mode, the
proxy's own report names the rule the fault documents, and the relay stays byte-exact."""

from __future__ import annotations

import pytest

from drimlab.documents.kos import read_kos
from drimlab.proxy.recording import Recorded
from drimlab.simulators.consumer import retrieve
from drimlab.simulators.faults import FAULT_DOCS, Fault
from drimlab.simulators.retrieval import RetrieveOptions, RetrieveResult
from drimlab.validation.findings import Severity
from drimlab.validation.report import Verdict

from .conftest import ProxyBench

RULE_FAULTS = [f for f in Fault if FAULT_DOCS[f].detected_by[0][0].isupper()]
EXPLICIT_ONLY = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'


def _through_proxy(
    bench: ProxyBench, fault: str, **options: object
) -> tuple[RetrieveResult, list[Recorded]]:
    with bench.source(fault), bench.proxy() as running:
        result = retrieve(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path, **options),  # type: ignore[arg-type]
        )
        assert running.recorder.wait_for(len(result.records), timeout=120)
        recorded = list(running.recorder.recorded)
    return result, recorded


def _smallest_series(bench: ProxyBench, *, at_least: int = 1) -> str:
    """The series with the fewest instances (at least `at_least`), to keep each run short."""
    kos = read_kos(bench.kos.path)
    fit = [s for s in kos.series if len(s.instances) >= at_least]
    return min(fit, key=lambda s: len(s.instances)).series_instance_uid


@pytest.mark.parametrize("fault", RULE_FAULTS, ids=lambda f: f.value)
def test_the_proxy_report_names_the_faults_documented_rule(bench: ProxyBench, fault: Fault) -> None:
    series = _smallest_series(bench, at_least=3)  # missing/duplicate need several parts
    accept = EXPLICIT_ONLY if fault is Fault.WRONG_TRANSFER_SYNTAX else None
    _, recorded = _through_proxy(bench, f"{fault.value}:{series}", series=(series,), accept=accept)
    assert len(recorded) == 1
    item = recorded[0]
    assert item.report is not None and item.exchange.origin == "proxy"
    fired = {f.rule for f in item.report.findings if f.severity is not Severity.INFO}
    expected = set(FAULT_DOCS[fault].detected_by)
    assert fired & expected, f"{fault}: expected one of {expected}, got {sorted(fired)}"
    assert item.report.verdict is Verdict.FAILED
    relay = item.exchange.relay
    assert relay is not None
    # whatever the source did, the proxy relayed exactly what it received
    assert relay.request.identical and relay.response.identical
    assert "RELAY-006" not in fired


def test_busy_source_503_is_relayed_and_recorded(bench: ProxyBench) -> None:
    series = _smallest_series(bench)
    _, recorded = _through_proxy(bench, f"busy:{series}", series=(series,))
    item = recorded[0]
    assert item.exchange.status == 503
    assert item.exchange.response_header("Retry-After") == "5"
    assert item.exchange.relay is not None and item.exchange.relay.response.identical
    assert item.report is not None and "RELAY-001" not in {f.rule for f in item.report.findings}


def test_slow_source_is_recorded_with_its_throughput(bench: ProxyBench) -> None:
    series = _smallest_series(bench)
    _, recorded = _through_proxy(bench, f"slow:{series}", series=(series,))
    item = recorded[0]
    assert item.exchange.status == 200
    assert item.report is not None and item.report.verdict is Verdict.PASSED
    throughput = item.exchange.timings["throughput_bytes_per_second"]
    assert 0 < throughput < 4 * 64 * 1024  # throttled at 64 KiB/s by the source
    assert item.exchange.timings["time_to_first_byte"] >= 0
