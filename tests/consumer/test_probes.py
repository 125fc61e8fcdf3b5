"""The probe battery against the server simulator over mutual TLS: every probe passes."""

from __future__ import annotations

from drimlab.simulators.consumer import RetrieveOptions, run_probes
from drimlab.simulators.probes import forge
from drimlab.store.records import load_exchange, load_report
from drimlab.tokens import TokenVerifier
from drimlab.validation.report import Verdict
from drimlab.validation.rules import CATALOGUE, load_all

from .conftest import Bench


def test_every_probe_passes_against_the_server_simulator(bench: Bench) -> None:
    with bench.source():
        report_id, report = run_probes(
            bench.store,
            bench.settings,
            RetrieveOptions(kos_path=bench.kos.path),
            burst=6,
            concurrency=3,
        )
    assert report.verdict is Verdict.PASSED, [f.message for f in report.findings]
    assert report.findings == ()
    load_all()
    probe_codes = {r.code for r in CATALOGUE if r.code.startswith("PROBE-")}
    ran = probe_codes - {"PROBE-001", "PROBE-002", "PROBE-003"}
    assert {c for c in report.rules_checked if c.startswith("PROBE-")} == ran
    # the battery's own connection to the source is judged too (TLS facts, like a retrieval)
    assert {"TLS-002", "TLS-013"} <= set(report.rules_checked)
    entries = report.facts["probes"]
    assert all(e["result"] == "passed" for e in entries)
    outcomes = {e["rule"]: e["actual"] for e in entries}
    assert outcomes["PROBE-040"] == "tls-refused"  # refused in the handshake
    assert outcomes["PROBE-043"] == "403"  # whitelist checked after it
    assert outcomes["PROBE-044"] == "tls-refused"
    # Each probe's exchange is kept as evidence, the report too.
    exchange = load_exchange(bench.store, entries[0]["exchange_id"])
    assert exchange.status == 404
    assert load_report(bench.store, report_id).verdict is Verdict.PASSED
    burst = report.facts["burst"]
    assert burst["ok"] == 6 and burst["time_to_first_byte_seconds"]["p50"] > 0


def test_a_source_that_ignores_the_kos_header_fails_its_probe(bench: Bench) -> None:
    # The simulator in plain DICOMweb mode does no DRIM-M check: the DRIM-M probes must say so.
    from drimlab.simulators.serve import SourceOptions, source_in_thread

    options = SourceOptions(port=bench.port, crl_port=None, drim_mode=False)
    with source_in_thread(bench.store, bench.env, options):
        _, report = run_probes(
            bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path), burst=0
        )
    errors = {f.rule for f in report.findings}
    assert {"PROBE-030", "PROBE-031", "PROBE-032", "PROBE-033", "PROBE-034"} <= errors
    assert report.verdict is Verdict.FAILED


def test_forged_token_does_not_verify(bench: Bench) -> None:
    token = bench.env.issuer.issue()
    verifier = TokenVerifier(bench.env.issuer.jwks(), issuer=bench.env.issuer.issuer_url)
    assert verifier.check(token).ok
    assert not verifier.check(forge(token)).ok
