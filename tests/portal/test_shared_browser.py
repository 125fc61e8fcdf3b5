"""A shared environment in a real headless Chromium: vendors A and B and a monitor log in;
A's consumer retrieves from the server simulator over mTLS and only A and the monitor see
that exchange; B gets 404 on A's exchange, report, run and bundle; A runs a scenario, the
monitor finds it in the worklist and records a verdict, and A sees it.
"""

from __future__ import annotations

import threading

import pytest

from drimlab.config import Settings
from drimlab.store import accounts
from drimlab.store.listings import page_exchanges
from drimlab.store.ownership import owner_of_exchange, owner_of_run
from drimlab.trust.pki import DEFAULT_CONSUMER_HOST

from .browser import WAIT_MS, Lab, chromium, screenshot, served_lab
from .conftest import PASSWORD
from .test_browser import _consumer_retrieves

pytestmark = [pytest.mark.peer, pytest.mark.slow]
SCENARIO = "DRIM-M_SO_REPONSE_WADO"


@pytest.fixture
def lab(default_dataset_copy: Settings):
    with served_lab(default_dataset_copy, accounts=True) as served:
        vendor_a = accounts.create_organisation(served.store, "Vendor A", (DEFAULT_CONSUMER_HOST,))
        accounts.create_organisation(served.store, "Vendor B", ("consumer.vendor-b.test",))
        accounts.create_user(served.store, "alice", PASSWORD, "vendor", "Vendor A")
        accounts.create_user(served.store, "bob", PASSWORD, "vendor", "Vendor B")
        accounts.create_user(served.store, "monica", PASSWORD, "monitor")
        served.vendor_a = vendor_a.id  # type: ignore[attr-defined]
        yield served


def _logged_in(browser, lab: Lab, login: str):
    context = browser.new_context(
        locale="en",
        extra_http_headers={"Accept-Language": "en"},
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(lab.url("/server"))
    assert page.url.startswith(lab.url("/login"))
    page.fill("#f-login", login)
    page.fill("#f-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#who")
    assert page.url == lab.url("/server")  # back where the login was asked
    return page


def test_vendors_are_isolated_and_the_monitors_verdict_reaches_the_vendor(
    lab: Lab, tmp_path
) -> None:
    with chromium() as browser:
        alice = _logged_in(browser, lab, "alice")
        bob = _logged_in(browser, lab, "bob")
        monica = _logged_in(browser, lab, "monica")

        # A's consumer retrieves over mTLS: the exchange is A's, shown live to A
        alice.goto(lab.url("/server"))
        consumer = threading.Thread(target=_consumer_retrieves, args=(lab,))
        consumer.start()
        consumer.join(120)
        row = alice.wait_for_selector("#exchanges tbody tr[data-verdict]")
        stored = page_exchanges(lab.store).items[0]
        assert row.get_attribute("id") == f"x-{stored.id}"
        assert owner_of_exchange(lab.store, stored.id) == lab.vendor_a  # type: ignore[attr-defined]
        screenshot(alice, tmp_path, "shared-vendor-a-server")

        bob.goto(lab.url("/server"))
        assert bob.locator(f"#x-{stored.id}").count() == 0
        assert bob.goto(lab.url(f"/exchanges/{stored.id}")).status == 404  # type: ignore[union-attr]
        assert bob.goto(lab.url(f"/reports/{stored.report_id}?alone=1")).status == 404  # type: ignore[union-attr]
        screenshot(bob, tmp_path, "shared-vendor-b-refused")
        monica.goto(lab.url("/server"))
        monica.wait_for_selector(f"#x-{stored.id}")

        # A runs a scenario to its end
        alice.goto(lab.url(f"/scenarios/{SCENARIO}"))
        alice.fill("#i-base_url", lab.simulator_base)
        alice.click("#start-run-submit")
        alice.wait_for_selector("#run-steps")
        run_id = alice.url.rsplit("/", 1)[1]
        alice.click("#step-submit")
        alice.click("#step-submit")
        alice.click("#step-submit")
        alice.wait_for_selector("#step-retrieve-series .step-status >> text=done")
        log = tmp_path / "source-log.txt"
        log.write_text("GET /dicom-web/studies/... 200\n", encoding="utf-8")
        alice.set_input_files("#e-source-log", str(log))
        alice.click("#step-submit")
        assert alice.text_content("#run-status") == "done"
        assert owner_of_run(lab.store, run_id) == lab.vendor_a  # type: ignore[attr-defined]
        assert alice.locator("#no-review").count() == 1
        for url in (f"/runs/{run_id}", f"/runs/{run_id}/evidence.zip"):
            assert bob.goto(lab.url(url)).status == 404, url  # type: ignore[union-attr]
        bob.goto(lab.url("/worklist"))
        assert "your role may not do this" in (bob.text_content("main") or "")

        # the monitor's worklist has A's run; the verdict is recorded and A sees it
        monica.goto(lab.url("/worklist"))
        monica.click(f"#worklist >> text={run_id[:8]}")
        monica.select_option("#f-review-status", "VERIFIED")
        monica.fill("#f-review-comment", "Evidence complete; retrieval conformant.")
        monica.click("#review-submit")
        monica.wait_for_selector("#reviews")
        screenshot(monica, tmp_path, "shared-monitor-review")
        monica.goto(lab.url("/worklist"))
        assert monica.locator(f"#worklist >> text={run_id[:8]}").count() == 0

        alice.reload()
        assert "VERIFIED" in (alice.text_content("#reviews") or "")
        assert "Evidence complete" in (alice.text_content("#reviews") or "")
        assert alice.locator("#review-form").count() == 0
        screenshot(alice, tmp_path, "shared-vendor-a-verdict")

        # logging out ends the session: the pages ask for a login again
        alice.click("#logout")
        alice.goto(lab.url("/server"))
        assert alice.url.startswith(lab.url("/login"))
