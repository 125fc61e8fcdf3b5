"""Every level (study, series, instance, frames) and both preference lists, against the server
simulator over mutual TLS; which syntax came back against the weights asked (WADO-RS-036)."""

from __future__ import annotations

from drimlab.domain import LOSSY_FIRST
from drimlab.simulators.consumer import RetrieveOptions, plan_requests, resolve_target, retrieve
from drimlab.simulators.retrieval import ACCEPT_LISTS, FRAMES_ACCEPT, LOSSY_FIRST_ACCEPT
from drimlab.store.records import load_exchange
from drimlab.validation.findings import Severity
from drimlab.validation.report import Verdict

from .conftest import Bench


def test_frames_requests_are_planned_per_instance_asking_uncompressed_frames(bench: Bench) -> None:
    target = resolve_target(RetrieveOptions(kos_path=bench.kos.path))
    requests = plan_requests(target, level="frames", token="t", frames=(1, 2))
    listed = sum(len(s.instances) for s in target.kos.series) if target.kos else 0
    assert len(requests) == listed
    assert all(r.url.endswith("/frames/1,2") and "/instances/" in r.url for r in requests)
    assert {r.header("Accept") for r in requests} == {FRAMES_ACCEPT}
    assert ACCEPT_LISTS["lossy-first"] == LOSSY_FIRST_ACCEPT
    assert LOSSY_FIRST_ACCEPT.startswith(
        f'multipart/related; type="application/dicom";transfer-syntax={LOSSY_FIRST[0][0]};q=1.0'
    )


def test_study_and_frames_levels_pass_against_the_server_simulator(bench: Bench) -> None:
    kos = resolve_target(RetrieveOptions(kos_path=bench.kos.path)).kos
    assert kos is not None
    first_series = kos.series[0].series_instance_uid
    with bench.source():
        study = retrieve(
            bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path, level="study")
        )
        frames = retrieve(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path, level="frames", series=(first_series,)),
        )
    assert study.verdict is Verdict.PASSED
    assert len(study.records) == 1 and study.records[0].url.endswith(bench.exam.study_instance_uid)
    assert frames.verdict is Verdict.PASSED, [
        f.as_dict() for r in frames.records for f in r.report.findings
    ]
    assert all(r.status == 200 for r in frames.records)
    exchange = load_exchange(bench.store, frames.records[0].exchange_id)
    assert "application/octet-stream" in (exchange.response_header("Content-Type") or "")


def test_a_syntax_below_the_preferred_one_is_a_warning_in_drim_m(bench: Bench) -> None:
    # The simulator stores JPEG-LS, not JPEG Lossless: the lossless-first list (4.70 at q=0.9,
    # 4.80 at 0.8) is answered in JPEG-LS, which the response validator points out.
    with bench.source():
        lossless = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
        lossy = retrieve(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path, accept=LOSSY_FIRST_ACCEPT),
        )
    assert lossless.verdict is Verdict.PASSED and lossy.verdict is Verdict.PASSED
    for result in (lossless, lossy):
        found = [f for r in result.records for f in r.report.findings if f.rule == "WADO-RS-036"]
        assert found and all(f.severity is Severity.WARNING for f in found)
        assert all(f.actual and f.actual.startswith("1.2.840.10008.1.2.4.80") for f in found)
    every = [f for r in lossless.records for f in r.report.findings if f.rule == "WADO-RS-036"]
    assert {f.expected for f in every} == {"1.2.840.10008.1.2.4.70 (q=0.9)"}
    assert any(f.message.startswith("parts 0-") for f in every)  # one finding per series
