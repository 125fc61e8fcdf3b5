"""The ANS demo workflow, end to end, in a real headless Chromium.

Pick an exam and copy its KOS UID; run the client simulator against the server simulator over
mTLS and against Orthanc in plain HTTP; a consumer (dicomweb-client over mTLS) retrieves from
the server simulator and its exchange appears in the live list without reload; each ANS sample
gets the verdict the CLI gives; DRIM-M_SO_REPONSE_WADO runs with a PREUVE upload, its bundle
is exported and verified on the monitor; the pages switch to French.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.datasets.catalog import exam_series, list_exams
from drimlab.simulators.environment import CONSUMER_CERT
from drimlab.store.listings import ExchangeFilter, page_exchanges
from drimlab.testing.orthanc import OrthancServer

from .browser import WAIT_MS, Lab, chromium, screenshot, served_lab

pytestmark = [pytest.mark.peer, pytest.mark.slow]


@pytest.fixture
def lab(default_dataset_copy: Settings):
    with served_lab(default_dataset_copy) as served:
        yield served


@pytest.fixture
def browser():
    with chromium() as launched:
        yield launched


def _page(browser, lab: Lab, language: str = "en"):
    context = browser.new_context(
        locale=language,
        extra_http_headers={"Accept-Language": language},
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url(""))
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def _consumer_retrieves(lab: Lab) -> None:
    """dicomweb-client over mTLS, as a consumer under test would."""
    exam = list_exams(lab.store)[0]
    assert exam.kos is not None
    series = exam_series(lab.store, exam.name)[0]
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(lab.env.pki.bundle_path)
        session.cert = (
            str(lab.env.pki.chain_path(CONSUMER_CERT)),
            str(lab.env.pki.key_path(CONSUMER_CERT)),
        )
        client = DICOMwebClient(
            lab.simulator_base,
            session=session,
            headers={
                "Authorization": f"Bearer {lab.env.issuer.issue()}",
                "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
            },
        )
        instances = client.retrieve_series(
            exam.study_instance_uid,
            series.series_instance_uid,
            media_types=(("application/dicom", ExplicitVRLittleEndian),),
        )
    assert len(instances) == len(series.instances)


def test_pick_an_exam_retrieve_over_mtls_and_watch_the_live_list(
    lab: Lab, browser, tmp_path: Path
) -> None:
    page = _page(browser, lab)
    page.goto(lab.url("/"))
    assert page.locator("#simulator-status").text_content() == "listening"
    screenshot(page, tmp_path, "environment")

    # pick a test dataset exam and copy its KOS SOPInstanceUID
    exam = list_exams(lab.store)[0]
    assert exam.kos is not None
    page.click("nav >> text=Datasets")
    screenshot(page, tmp_path, "datasets")
    page.click(f"#exams >> text={exam.name}")
    page.wait_for_function(  # the first series' thumbnail, rendered from its images
        "() => { const i = document.querySelector('.thumbs img'); return i && i.complete"
        " && i.naturalWidth > 0; }"
    )
    page.click("#kos-uid button.copy")
    copied = page.evaluate("navigator.clipboard.readText().catch(() => window.drimlabCopied)")
    assert copied == exam.kos.sop_instance_uid
    screenshot(page, tmp_path, "exam")

    # the live list: a consumer's retrieval appears without reload, with its verdict
    page.goto(lab.url("/server"))
    page.evaluate("window.notReloaded = true")
    consumer = threading.Thread(target=_consumer_retrieves, args=(lab,))
    consumer.start()
    consumer.join(120)
    row = page.wait_for_selector("#exchanges tbody tr[data-verdict]")
    assert page.evaluate("window.notReloaded") is True
    stored = page_exchanges(lab.store).items[0]
    assert row.get_attribute("id") == f"x-{stored.id}"
    assert row.get_attribute("data-verdict") == stored.verdict == "PASSED"
    screenshot(page, tmp_path, "server-live-list")
    row.query_selector("a").click()  # type: ignore[union-attr]
    page.wait_for_selector("#request-head")
    assert "KOS-SOPInstanceUID" in (page.text_content("#request-head") or "")
    assert "TLS" in (page.text_content("#tls") or "")
    screenshot(page, tmp_path, "exchange")

    # the client simulator against the server simulator over mTLS, then its report
    page.goto(lab.url(f"/client?exam={exam.name}"))
    page.fill("#c-base", lab.simulator_base)
    screenshot(page, tmp_path, "client-form")
    page.click("#client-run")
    verdict = page.wait_for_selector("#job-verdict .verdict")
    shown = verdict.text_content()
    retrieved = page_exchanges(lab.store, ExchangeFilter(origin="client")).items
    assert shown == "PASSED"
    assert retrieved and {item.verdict for item in retrieved} == {shown}
    assert page.locator(".result").count() == exam.series_count
    screenshot(page, tmp_path, "client-result")

    # the same pages in French
    page.click(".lang-switch >> text=FR")
    assert page.get_attribute("html", "lang") == "fr"
    page.goto(lab.url("/server"))
    assert "Simulateur serveur : requêtes reçues" in (page.text_content("h1") or "")
    page.goto(lab.url("/"))
    assert "Environnement de test DRIM-M" in (page.text_content("h1") or "")
    screenshot(page, tmp_path, "environment-fr")


def test_client_simulator_against_orthanc_in_plain_http(lab: Lab, browser) -> None:
    exam = list_exams(lab.store)[0]
    files = [
        i.file(ExplicitVRLittleEndian).path  # type: ignore[union-attr]
        for s in exam_series(lab.store, exam.name)
        for i in s.instances
    ]
    with OrthancServer() as orthanc:
        orthanc.load(files)
        page = _page(browser, lab)
        page.goto(lab.url(f"/client?exam={exam.name}"))
        page.fill("#c-base", orthanc.base_url)
        page.check("#c-insecure")
        page.click("#client-run")
        verdict = page.wait_for_selector("#job-verdict .verdict")
        shown = verdict.text_content()
    retrieved = page_exchanges(lab.store, ExchangeFilter(origin="client")).items
    assert shown == "PASSED"
    assert retrieved and {item.verdict for item in retrieved} == {shown}
    assert "TLS-013" in (page.text_content("main") or "")  # plain HTTP is flagged


SAMPLES = [
    ("request", ("file",), "wado-rs/request-series.txt", ["validate", "request"]),
    ("request", ("file",), "wado-rs/request-instance.txt", ["validate", "request"]),
    ("response", ("file",), "wado-rs/response-headers.txt", ["validate", "response"]),
    ("kos", ("file",), "kos/ans-example-ko.dcm", ["validate", "kos"]),
    ("kos", ("file",), "kos/xdm-KOS_1_1.dcm", ["validate", "kos"]),
    ("xds", ("file",), "cross-validation/XDS.xml", ["validate", "xds"]),
    ("whitelist", ("file",), "whitelist/signed.xml", ["whitelist", "verify"]),
    ("whitelist", ("file",), "whitelist/unsigned.xml", ["whitelist", "verify"]),
]


def _cli_verdict(command: list[str], sample: Path, out: Path) -> str:
    run([*command, str(sample), "--format", "json", "--output", str(out)])
    return str(json.loads(out.read_text(encoding="utf-8"))["verdict"])


def test_each_ans_sample_gets_the_verdict_the_cli_gives(
    lab: Lab, browser, reference_dir: Path, tmp_path: Path
) -> None:
    page = _page(browser, lab)
    for number, (kind, fields, relative, command) in enumerate(SAMPLES):
        sample = reference_dir / relative
        expected = _cli_verdict(command, sample, tmp_path / f"cli-{number}.json")
        page.goto(lab.url(f"/validate?kind={kind}"))
        page.set_input_files(f"#f-{fields[0]}", str(sample))
        page.click("#validate-submit")
        shown = page.wait_for_selector(".summary .verdict").text_content()
        assert shown == expected, relative
        if number == 0:
            screenshot(page, tmp_path, "validation-report")
    page.goto(lab.url("/validate/history"))
    assert page.locator("#history tbody tr").count() >= len(SAMPLES)
    screenshot(page, tmp_path, "validation-history")


def test_scenario_in_the_browser_then_the_bundle_on_the_monitor(
    lab: Lab, browser, tmp_path: Path
) -> None:
    page = _page(browser, lab)
    page.goto(lab.url("/scenarios/DRIM-M_SO_REPONSE_WADO"))
    page.fill("#i-base_url", lab.simulator_base)
    page.click("#start-run-submit")
    page.wait_for_selector("#run-steps")
    page.click("#step-submit")  # INSTRUCTION load-exam
    page.click("#step-submit")  # INSTRUCTION trust-bench
    screenshot(page, tmp_path, "scenario-run")
    page.click("#step-submit")  # VALIDATION retrieve-series, launched from the page
    page.wait_for_selector("#step-retrieve-series .step-status >> text=done")
    log = tmp_path / "source-log.txt"
    log.write_text("GET /dicom-web/studies/... 200\n", encoding="utf-8")
    page.set_input_files("#e-source-log", str(log))
    page.click("#step-submit")  # PREUVE source-log
    assert page.text_content("#run-status") == "done"
    screenshot(page, tmp_path, "scenario-done")
    with page.expect_download() as download:
        page.click("#export-bundle")
    bundle = tmp_path / "evidence.zip"
    download.value.save_as(bundle)
    page.goto(lab.url("/monitor"))
    page.set_input_files("#m-bundle", str(bundle))
    page.click("#monitor-submit")
    assert page.text_content("#monitor-verdict") == "VERIFIED"
    screenshot(page, tmp_path, "monitor")
    page.goto(lab.url("/rules"))
    page.fill("#rule-search", "KOS")
    page.press("#rule-search", "Enter")
    assert page.locator("#rules tbody tr").count() > 0
    screenshot(page, tmp_path, "rules")
