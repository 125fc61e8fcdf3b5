"""Isolation between organisations at the HTTP level: every id-bearing URL of one
organisation's exchange, report, run, bundle and job is 404 to another vendor, and seen by
monitors; lists show a vendor only their own rows; the monitor's verdict reaches the vendor.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from drimlab.datasets.catalog import list_exams
from drimlab.exchange import Exchange
from drimlab.facts.tls import CertificateFacts, Role, TlsFacts
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange

from .conftest import SharedPortal, csrf_of

SCENARIO = "DRIM-M_SO_REPONSE_WADO"


def _a_consumer_exchange(shared: SharedPortal) -> tuple[str, str]:
    """An exchange the server simulator received from Vendor A's consumer certificate."""
    now = datetime.now(UTC)
    certificate = CertificateFacts(
        subject="CN=consumer.vendor-a.test,O=Vendor A,C=FR",
        issuer="CN=TEST",
        serial="02",
        sha256="11" * 32,
        not_before=now,
        not_after=now,
        common_name="consumer.vendor-a.test",
    )
    exchange = Exchange(
        method="GET",
        target="/dicom-web/studies/1.2.3/series/4.5.6",
        request_headers=(("Host", "localhost"), ("Accept", "multipart/related")),
        status=200,
        origin="server",
        tls=TlsFacts(role=Role.SERVER, peer_chain=(certificate,)),
    )
    exchange_id = save_exchange(shared.store, exchange)
    report = validate_exchange(exchange, Selection.of("drim-m"))
    return exchange_id, save_report(shared.store, report, exchange_id=exchange_id)


def _validate_a_kos(shared: SharedPortal, client) -> str:
    exam = list_exams(shared.store)[0]
    kos = client.get(f"/datasets/{exam.name}/kos.dcm").content
    form = client.get("/validate?kind=kos")
    answer = client.post(
        "/validate",
        data={"csrf": csrf_of(form), "kind": "kos", "profile": "drim-m"},
        files={"file": ("<img src=x onerror=alert(1)>.dcm", kos, "application/dicom")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    found = re.search(r"/reports/([0-9a-f-]{36})", answer.headers["location"])
    assert found is not None
    return found.group(1)


def _start_run(client) -> str:
    form = client.get(f"/scenarios/{SCENARIO}")
    answer = client.post(
        f"/scenarios/{SCENARIO}/runs",
        data={"csrf": csrf_of(form), "base_url": "https://localhost:1/dicom-web"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].rsplit("/", 1)[1]


def test_another_vendor_gets_404_on_every_url_of_a_vendors_work(shared: SharedPortal) -> None:
    alice, bob, monica = shared.login("alice"), shared.login("bob"), shared.login("monica")
    exchange_id, exchange_report = _a_consumer_exchange(shared)
    validation = _validate_a_kos(shared, alice)
    run_id = _start_run(alice)
    urls = [
        f"/exchanges/{exchange_id}",
        f"/reports/{exchange_report}?alone=1",
        f"/reports/{validation}?alone=1",
        f"/reports/{validation}/download/json",
        f"/reports/{validation}/download/gazelle-xml",
        f"/runs/{run_id}",
        f"/runs/{run_id}/evidence.zip",
    ]
    for url in urls:
        assert bob.get(url).status_code == 404, url
        assert alice.get(url).status_code in {200, 404}, url
        assert monica.get(url).status_code == alice.get(url).status_code, url
    assert alice.get(f"/exchanges/{exchange_id}").status_code == 200
    assert alice.get(f"/reports/{validation}?alone=1").status_code == 200
    step = bob.post(f"/runs/{run_id}/step", data={"csrf": csrf_of(bob.get("/")), "action": "done"})
    assert step.status_code == 404

    # lists: a vendor sees only their own rows, a monitor every row
    assert exchange_id in alice.get("/server").text
    assert exchange_id not in bob.get("/server").text
    assert exchange_id in monica.get("/server").text
    assert "consumer.vendor-a.test" not in bob.get("/server").text  # not even in the filter
    assert validation in alice.get("/validate/history").text
    assert validation not in bob.get("/validate/history").text
    assert run_id[:8] in alice.get("/scenarios").text
    assert run_id[:8] not in bob.get("/scenarios").text
    # the uploaded file's name is shown escaped, never as markup
    report_page = alice.get(f"/reports/{validation}?alone=1").text
    assert "<img src=x" not in report_page


def test_the_monitor_records_a_verdict_the_vendor_then_sees(shared: SharedPortal) -> None:
    alice, bob, monica = shared.login("alice"), shared.login("bob"), shared.login("monica")
    run_id = _start_run(alice)
    assert bob.get("/worklist").status_code == 403
    forged = monica.post(f"/runs/{run_id}/review", data={"status": "VERIFIED"})
    assert forged.status_code == 403
    page = monica.get(f"/runs/{run_id}")
    wrong = monica.post(
        f"/runs/{run_id}/review",
        data={"csrf": csrf_of(page), "status": "PASSED", "comment": ""},
        follow_redirects=False,
    )
    assert wrong.status_code == 303 and "unknown%20status" in wrong.headers["location"]
    done = monica.post(
        f"/runs/{run_id}/review",
        data={
            "csrf": csrf_of(page),
            "status": "PARTIALLY_VERIFIED",
            "comment": "<b>log</b> missing",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    seen = alice.get(f"/runs/{run_id}").text
    assert "PARTIALLY_VERIFIED" in seen and "&lt;b&gt;log&lt;/b&gt; missing" in seen
    assert "monica" in seen
    assert 'id="review-form"' not in seen  # a vendor reviews nothing
    vendor_try = alice.post(
        f"/runs/{run_id}/review", data={"csrf": csrf_of(alice.get("/")), "status": "VERIFIED"}
    )
    assert vendor_try.status_code == 403
    assert (
        monica.post(
            "/runs/no-such-run/review", data={"csrf": csrf_of(page), "status": "VERIFIED"}
        ).status_code
        == 404
    )


def test_a_vendor_may_not_change_what_every_vendor_shares(shared: SharedPortal) -> None:
    alice, monica = shared.login("alice"), shared.login("monica")
    assert "consumer-key.pem" not in alice.get("/").text
    assert alice.get("/downloads/consumer-key.pem").status_code == 403
    assert alice.get("/downloads/source-key.pem").status_code == 403
    assert alice.get("/downloads/consumer-cert.pem").status_code == 200
    assert monica.get("/downloads/consumer-key.pem").status_code == 200
    csrf = csrf_of(alice.get("/"))
    assert alice.post("/server/faults", data={"csrf": csrf, "fault": "slow"}).status_code == 403
    assert alice.post("/datasets/import", data={"csrf": csrf}).status_code == 403
