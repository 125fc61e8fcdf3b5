"""A proxied exchange is stored through the normal path: the portal's live list (captured by
the recording proxy), its exchange page and its report show it, in English and in French."""

from __future__ import annotations

from starlette.testclient import TestClient

from drimlab.portal import SimulatorLink, create_app
from drimlab.portal.serve import build_portal
from drimlab.simulators.consumer import retrieve
from drimlab.simulators.retrieval import RetrieveOptions

from .conftest import ProxyBench


def test_the_portal_shows_a_proxied_exchange_and_its_report(bench: ProxyBench) -> None:
    with bench.source(), bench.proxy() as running:
        result = retrieve(bench.store, bench.settings, RetrieveOptions(kos_path=bench.kos.path))
        assert running.recorder.wait_for(len(result.records), timeout=60)
        item = running.recorder.recorded[0]
    assert item.exchange_id is not None and item.report_id is not None
    link = SimulatorLink(base_url=f"https://localhost:{bench.source_port}/dicom-web")
    portal = build_portal(bench.store, bench.settings, link)
    for language in ("en", "fr"):
        with TestClient(create_app(portal), headers={"Accept-Language": language}) as client:
            page = client.get(f"/exchanges/{item.exchange_id}")
            assert page.status_code == 200
            assert item.exchange.target is not None
            assert item.exchange.target.rsplit("/", 1)[1] in page.text
            assert "PASSED" in page.text
            report = client.get(f"/reports/{item.report_id}", follow_redirects=True)
            assert report.status_code == 200
            listed = client.get("/server", params={"origin": "proxy"})
            assert listed.status_code == 200
            assert f"/exchanges/{item.exchange_id}" in listed.text
            assert (
                "recording proxy" if language == "en" else "proxy d’enregistrement"
            ) in listed.text
            assert f"/exchanges/{item.exchange_id}" not in client.get("/server").text
            live = listed.text.split('data-live="', 1)[1].split('"', 1)[0]
            assert "origin=proxy" in live  # the live feed keeps the capture
            assert client.get("/server", params={"origin": "elsewhere"}).status_code == 400
