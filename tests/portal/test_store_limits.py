"""The limits that protect a shared store, seen from the portal: an organisation over its
quota gets 429 and nothing is stored; what the purge removed answers 404, never 500; the
task worker's hourly purge."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, select, update

from drimlab.datasets.catalog import list_exams
from drimlab.exchange import Exchange
from drimlab.portal.queue import _tasks
from drimlab.store import accounts
from drimlab.store.models import ExchangeRecord, ReportRecord, utcnow
from drimlab.store.quotas import check_quota, set_quota
from drimlab.store.records import save_exchange_and_report
from drimlab.store.retention import purge
from drimlab.validation.engine import validate_request

from .conftest import PortalUnderTest, SharedPortal, csrf_of

RAW = b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: x\r\n\r\n"


def _count(shared: SharedPortal) -> tuple[int, int]:
    with shared.store.session() as session:
        return (
            int(session.scalar(select(func.count(ExchangeRecord.id))) or 0),
            int(session.scalar(select(func.count(ReportRecord.id))) or 0),
        )


def _uploads(shared: SharedPortal) -> list[str]:
    folder = shared.portal.uploads_dir / "validations"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_api_answers_429_over_quota_and_stores_nothing(shared: SharedPortal) -> None:
    users = {a.login: a for a in accounts.users(shared.store)}
    token, _ = accounts.create_api_token(shared.store, users["alice"], "CI")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/http"}
    api = shared.client()
    made = api.post("/api/validations?validator=request", content=RAW, headers=headers)
    assert made.status_code == 201, made.text
    vendor_a = users["alice"].organisation_id
    assert vendor_a is not None
    assert check_quota(shared.store, vendor_a).usage.exchanges == 1
    assert check_quota(shared.store, vendor_a).usage.bytes == len(RAW)  # the kept upload
    set_quota(shared.store, "Vendor A", exchanges=1)
    before, kept = _count(shared), _uploads(shared)
    refused = api.post("/api/validations?validator=request", content=RAW, headers=headers)
    assert refused.status_code == 429
    problem = refused.json()
    assert problem["status"] == 429 and "quota" in problem["detail"]
    assert "1 of 1 exchanges" in problem["detail"] and "\n" not in problem["detail"]
    assert _count(shared) == before and _uploads(shared) == kept
    # another organisation is not bounded by Vendor A's quota
    bob_token, _ = accounts.create_api_token(shared.store, users["bob"], "CI")
    other = {**headers, "Authorization": f"Bearer {bob_token}"}
    assert (
        api.post("/api/validations?validator=request", content=RAW, headers=other).status_code
        == 201
    )


def test_the_validator_page_answers_429_with_the_form_and_one_line(shared: SharedPortal) -> None:
    set_quota(shared.store, "Vendor A", size=0)
    alice = shared.login("alice")
    exam = list_exams(shared.store)[0]
    kos = alice.get(f"/datasets/{exam.name}/kos.dcm").content
    before = _count(shared)
    for language, words in (("en", "storage quota"), ("fr", "quota de stockage")):
        form = alice.get("/validate?kind=kos")
        answer = alice.post(
            "/validate",
            data={"csrf": csrf_of(form), "kind": "kos", "profile": "drim-m"},
            files={"file": ("k.dcm", kos, "application/dicom")},
            headers={"Accept-Language": language},
            follow_redirects=False,
        )
        assert answer.status_code == 429
        assert words in answer.text and 'name="kind"' in answer.text
    assert _count(shared) == before and _uploads(shared) == []


def test_a_purged_exchange_and_report_answer_404(portal: PortalUnderTest) -> None:
    exchange = Exchange(method="GET", target="/dicom-web/studies/1.2.3", origin="client")
    exchange_id, report_id = save_exchange_and_report(
        portal.store, exchange, validate_request(exchange)
    )
    client = portal.client
    assert client.get(f"/exchanges/{exchange_id}").status_code == 200
    with portal.store.session() as session:
        session.execute(update(ExchangeRecord).values(created_at=utcnow() - timedelta(days=9)))
    assert purge(portal.store, portal.settings, timedelta(days=7)).exchanges.count == 1
    assert client.get(f"/exchanges/{exchange_id}").status_code == 404
    assert client.get(f"/reports/{report_id}").status_code == 404
    assert client.get(f"/api/exchanges/{exchange_id}").status_code == 404
    assert client.get(f"/api/validations/{report_id}").status_code == 404
    assert client.get("/validate/history").status_code == 200


def test_the_worker_purges_hourly_only_when_a_retention_period_is_set(
    portal: PortalUnderTest,
) -> None:
    blueprint = _tasks()
    task = blueprint.tasks["purge_expired"]
    assert task.queueing_lock == "purge_expired"
    registry = blueprint.periodic_registry.periodic_tasks.values()
    periodic = [p for p in registry if p.task.name == "purge_expired"]
    assert len(periodic) == 1 and periodic[0].cron == "7 * * * *"
    exchange = Exchange(method="GET", target="/dicom-web/studies/1.2.3", origin="client")
    save_exchange_and_report(portal.store, exchange, validate_request(exchange))
    with portal.store.session() as session:
        session.execute(update(ExchangeRecord).values(created_at=utcnow() - timedelta(days=9)))
    context = SimpleNamespace(additional_context={"portal": portal.portal})
    task.func(context, timestamp=0)  # no retention period: nothing removed
    assert _exchanges(portal) == 1
    portal.portal.settings = replace(portal.settings, retention_days=7)
    portal.store.settings = portal.portal.settings
    task.func(context, timestamp=0)
    assert _exchanges(portal) == 0


def _exchanges(portal: PortalUnderTest) -> int:
    with portal.store.session() as session:
        return int(session.scalar(select(func.count(ExchangeRecord.id))) or 0)


def test_client_runs_and_scenario_runs_answer_429_over_quota_and_store_nothing(
    shared: SharedPortal,
) -> None:
    users = {a.login: a for a in accounts.users(shared.store)}
    token, _ = accounts.create_api_token(shared.store, users["alice"], "CI")
    api, auth = shared.client(), {"Authorization": f"Bearer {token}"}
    scenario = "DRIM-M_SO_REPONSE_WADO"
    run = api.post("/api/runs", json={"scenario": scenario}, headers=auth)
    assert run.status_code == 201, run.text
    set_quota(shared.store, "Vendor A", size=0)
    before = _count(shared)
    alice = shared.login("alice")
    exam = list_exams(shared.store)[0]
    client_form = alice.get("/client")
    refused = alice.post(
        "/client",
        data={"csrf": csrf_of(client_form), "source": "exam", "exam": exam.name},
        follow_redirects=False,
    )
    assert refused.status_code == 429 and "storage quota" in refused.text
    started = alice.post(
        f"/scenarios/{scenario}/runs",
        data={"csrf": csrf_of(alice.get(f"/scenarios/{scenario}"))},
        follow_redirects=False,
    )
    assert started.status_code == 429 and "storage quota" in started.text
    for answer in (
        api.post("/api/runs", json={"scenario": scenario}, headers=auth),
        api.post(f"/api/runs/{run.json()['id']}/resume", headers=auth),
    ):
        assert answer.status_code == 429, answer.text
        assert "quota" in answer.json()["detail"]
    assert _count(shared) == before
    assert len(shared.portal.jobs._jobs) == 0  # no client job was started
