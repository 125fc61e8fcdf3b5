"""The client simulator against the server simulator over mutual TLS with the bench PKI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from drimlab.datasets.catalog import exam_series
from drimlab.simulators.consumer import RetrieveOptions, retrieve
from drimlab.simulators.faults import FAULT_DOCS
from drimlab.store.records import load_exchange, load_report
from drimlab.validation.report import Verdict

from .conftest import Bench, kept_files

# Faults whose documentation names the rule codes that detect them.
DETECTABLE = sorted(
    (fault.value, doc.detected_by)
    for fault, doc in FAULT_DOCS.items()
    if all(code[:1].isupper() and "-" in code for code in doc.detected_by)
)


def test_no_fault_passes_and_every_instance_arrives_intact(bench: Bench, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    with bench.source():
        result = retrieve(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path, keep_dir=tmp_path / "parts"),
            progress=lambda parts, size: seen.append((parts, size)),
        )
    series = exam_series(bench.store, bench.exam.name)
    assert result.verdict is Verdict.PASSED
    assert len(result.records) == len(series)
    assert all(r.status == 200 for r in result.records)
    # Every instance, byte-identical to one of the catalogue's encodings of it.
    encodings = {f.sha256: i.sop_instance_uid for s in series for i in s.instances for f in i.files}
    kept = kept_files(tmp_path / "parts")
    assert len(kept) == sum(len(s.instances) for s in series)
    for path in kept:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert encodings[digest] == path.stem
    assert seen and seen[-1][0] > 0
    # The evidence: request as sent, TLS facts, timings, part manifest, the report.
    record = result.records[0]
    exchange = load_exchange(bench.store, record.exchange_id)
    assert exchange.origin == "client"
    assert exchange.request_header("KOS-SOPInstanceUID") == bench.kos.sop_instance_uid
    assert (exchange.request_header("Authorization") or "").startswith("Bearer ")
    peer = exchange.tls.peer if exchange.tls is not None else None
    assert peer is not None and peer.common_name == "localhost"
    assert exchange.tls is not None and exchange.tls.version in ("TLSv1.2", "TLSv1.3")
    assert exchange.timings["time_to_first_byte"] > 0
    assert exchange.timings["body_bytes"] > 0
    stored = load_report(bench.store, record.report_id)
    assert stored.verdict is Verdict.PASSED
    assert {"WL-021", "WL-022", "DRIM-022"} <= set(stored.rules_checked)


@pytest.mark.parametrize(("fault", "codes"), DETECTABLE)
def test_each_fault_is_detected_by_its_documented_rule(
    bench: Bench, fault: str, codes: tuple[str, ...]
) -> None:
    with bench.source(fault):
        result = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
    assert result.verdict is Verdict.FAILED
    found = {f.rule for r in result.records for f in r.report.findings}
    assert found & set(codes), f"{fault}: expected one of {codes}, found {sorted(found)}"


def test_busy_source_is_a_warning_not_an_error(bench: Bench) -> None:
    with bench.source("busy"):
        result = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
    assert {r.status for r in result.records} == {503}
    assert result.verdict is Verdict.PASSED
    assert all(
        [(f.rule, f.severity.value) for f in r.report.findings] == [("PROBE-003", "warning")]
        for r in result.records
    )


def test_a_source_not_on_the_whitelist_is_reported(bench: Bench, tmp_path: Path) -> None:
    # Reaching the same source by its IP address: the whitelist lists it as `localhost`.
    options = RetrieveOptions(
        kos_path=bench.kos.path, base_url=f"https://127.0.0.1:{bench.port}/dicom-web"
    )
    with bench.source():
        result = retrieve(bench.store, bench.settings, options)
    codes = {f.rule for r in result.records for f in r.report.findings}
    assert "WL-021" in codes
    assert result.verdict is Verdict.FAILED


def test_an_untrusted_source_certificate_is_a_tls_finding(bench: Bench) -> None:
    # Trusting only the rogue hierarchy: the genuine source certificate does not verify.
    rogue_ca = bench.env.pki.path("ca/rogue-root.pem")
    options = RetrieveOptions(kos_path=bench.kos.path, ca=rogue_ca)
    with bench.source():
        result = retrieve(bench.store, bench.settings, options)
    assert result.verdict is Verdict.FAILED
    assert all(r.status is None for r in result.records)
    assert {f.rule for r in result.records for f in r.report.findings} == {"TLS-002"}


def test_performance_mode_reports_percentiles(bench: Bench) -> None:
    series = exam_series(bench.store, bench.exam.name)[-1].series_instance_uid
    options = RetrieveOptions(kos_path=bench.kos.path, series=(series,), repeat=3, concurrency=2)
    with bench.source():
        result = retrieve(bench.store, bench.settings, options)
    assert result.verdict is Verdict.PASSED
    assert len(result.records) == 3
    facts = result.performance
    assert facts is not None and facts["successful"] == 3
    ttfb = facts["time_to_first_byte_seconds"]
    assert 0 < ttfb["p50"] <= ttfb["p90"] <= ttfb["max"]
    assert facts["throughput_bytes_per_second"]["p50"] > 0


@pytest.mark.parametrize("level", ["study", "instance"])
def test_study_and_instance_levels_pass(bench: Bench, level: str) -> None:
    options = RetrieveOptions(kos_path=bench.kos.path, level=level)  # type: ignore[arg-type]
    with bench.source():
        result = retrieve(bench.store, bench.settings, options)
    assert result.verdict is Verdict.PASSED
    expected = 1 if level == "study" else bench.exam.instance_count
    assert len(result.records) == expected
    assert sum(len(r.report.parts) for r in result.records) == bench.exam.instance_count


def test_unreachable_source_is_an_input_error(bench: Bench) -> None:
    from drimlab.errors import InputError
    from drimlab.simulators.runner import free_port

    options = RetrieveOptions(
        base_url=f"https://localhost:{free_port()}/dicom-web",
        study=bench.exam.study_instance_uid,
        series=("1.2.3",),
        kos_uid=bench.kos.sop_instance_uid,
    )
    with pytest.raises(InputError, match="cannot connect"):
        retrieve(bench.store, bench.settings, options)
