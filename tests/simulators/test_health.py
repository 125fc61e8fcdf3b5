"""The server simulator answers the ANS health check, and records it as a health check."""

from __future__ import annotations

import httpx

from drimlab.validation.findings import Severity


def test_get_base_is_answered_and_judged_as_a_health_check(start_simulator) -> None:
    sim = start_simulator()
    answer = httpx.get(sim.base, headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "UP"
    assert answer.headers["Strict-Transport-Security"]
    assert httpx.get(sim.base + "/", headers={"Accept": "application/json"}).status_code == 200
    assert sim.recorder.wait_for(2, timeout=60)
    report = sim.recorder.recorded[0].report
    assert report.verdict.value == "PASSED", [f.as_dict() for f in report.findings]
    assert report.facts["kind"] == "health-check"
    assert {"HEALTH-001", "HEALTH-002"} <= set(report.rules_checked)
    assert "WADO-RQ-002" not in report.rules_checked  # not judged as a malformed retrieve


def test_a_health_check_by_post_is_refused_and_named(start_simulator) -> None:
    sim = start_simulator()
    assert httpx.post(sim.base, headers={"Accept": "application/json"}).status_code == 405
    assert httpx.get(sim.base, headers={"Accept": "text/html"}).status_code == 200
    assert sim.recorder.wait_for(2, timeout=60)
    by_method = {r.report.subject.split()[0]: r.report for r in sim.recorder.recorded}
    posted = by_method["POST"]
    assert posted.verdict.value == "FAILED"
    assert {f.rule for f in posted.findings if f.severity is Severity.ERROR} >= {"HEALTH-001"}
    html = by_method["GET"]
    # Without a JSON Accept a GET of the base is not a health check: a malformed retrieve.
    assert "WADO-RQ-002" in {f.rule for f in html.findings}
