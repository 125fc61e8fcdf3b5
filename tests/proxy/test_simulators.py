"""`drimlab retrieve` -> proxy -> `drimlab serve`: the client simulator retrieves through the
proxy as it would directly, and the proxy's own reports judge what passed."""

from __future__ import annotations

from drimlab.proxy.config import Upstream
from drimlab.proxy.recording import Recorded
from drimlab.simulators.consumer import RetrieveOptions, retrieve
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store.records import load_exchange, load_report
from drimlab.validation.report import Verdict

from .conftest import ProxyBench


def _proxied(bench: ProxyBench, *faults: str, **options: object) -> tuple[object, list[Recorded]]:
    with bench.source(*faults), bench.proxy() as running:
        result = retrieve(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path, **options),  # type: ignore[arg-type]
        )
        assert running.recorder.wait_for(len(result.records), timeout=60)
        recorded = list(running.recorder.recorded)
    return result, recorded


def test_no_fault_passes_on_both_sides_with_byte_exact_relay(bench: ProxyBench) -> None:
    result, recorded = _proxied(bench)
    assert result.verdict is Verdict.PASSED  # type: ignore[attr-defined]
    assert len(recorded) == len(result.records) == bench.exam.series_count  # type: ignore[attr-defined]
    for item in recorded:
        assert item.report is not None and item.report.verdict is Verdict.PASSED, item.report
        exchange = load_exchange(bench.store, item.exchange_id or "")
        assert exchange.origin == "proxy" and exchange.status == 200
        relay = exchange.relay
        assert relay is not None and relay.ended.value == "complete"
        assert relay.request.identical and relay.response.identical
        assert relay.response.received_bytes > 1000
        assert exchange.tls is not None and exchange.upstream_tls is not None
        assert (
            exchange.tls.peer is not None
            and exchange.tls.peer.common_name == "consumer.drimlab.test"
        )
        assert exchange.upstream_tls.peer is not None
        assert exchange.upstream_tls.peer.common_name == "localhost"
        assert len(exchange.parts) == len(item.report.parts) > 0
        report = load_report(bench.store, item.report_id or "")
        assert {"WL-020", "WL-021", "WL-022", "DRIM-022", "RELAY-006"} <= set(report.rules_checked)
    # the consumer's own record of each response matches what the proxy sent it
    for record in result.records:  # type: ignore[attr-defined]
        client = load_exchange(bench.store, record.exchange_id)
        assert client.origin == "client"
        sha = {p.sha256 for p in client.parts}
        proxied = {p.sha256 for r in recorded for p in r.exchange.parts}
        assert sha <= proxied


def test_validation_that_cannot_keep_up_gives_up_and_the_relay_goes_on(bench: ProxyBench) -> None:
    """A validation buffer smaller than one read: the body is relayed whole, not validated."""
    with bench.source(), bench.proxy(validation_buffer=1024) as running:
        result = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
        assert running.recorder.wait_for(len(result.records), timeout=60)
        recorded = list(running.recorder.recorded)
    assert result.verdict is Verdict.PASSED  # the consumer got every byte, and checked them
    for item in recorded:
        relay = item.exchange.relay
        assert relay is not None and relay.ended.value == "complete"
        assert relay.response.identical and relay.validation_behind_at is not None
        assert item.report is not None
        rules = {f.rule for f in item.report.findings}
        assert "RELAY-007" in rules
        assert item.report.verdict is not Verdict.FAILED  # a warning: nothing was judged wrong


def test_a_plain_http_source_is_relayed_and_its_leg_reported(bench: ProxyBench) -> None:
    options = SourceOptions(port=bench.source_port, crl_port=None, insecure_http=True)
    upstream = Upstream("http", "localhost", bench.source_port)
    with (
        source_in_thread(bench.store, bench.env, options),
        bench.proxy(upstream=upstream, client=None) as running,
    ):
        result = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
        assert running.recorder.wait_for(len(result.records), timeout=60)
        recorded = list(running.recorder.recorded)
    assert result.verdict is Verdict.PASSED  # the consumer's own leg is mutual TLS
    for item in recorded:
        assert item.report is not None
        assert item.exchange.relay is not None and item.exchange.relay.response.identical
        assert "TLS-013" in {f.rule for f in item.report.findings}
