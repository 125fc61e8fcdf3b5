"""The portal's pages in-process: what they show comes from the store and the library."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from pathlib import Path

from drimlab.datasets.catalog import exam_series, list_exams
from drimlab.portal.templating import part_ranges
from drimlab.store.queries import list_reports
from drimlab.store.records import load_report

from .conftest import PortalUnderTest


def test_environment_page_gives_addresses_trust_material_and_a_token(
    portal: PortalUnderTest,
) -> None:
    page = portal.client.get("/")
    assert page.status_code == 200
    assert "https://localhost:1/dicom-web" in page.text
    assert "not reachable" in page.text  # nothing listens on port 1
    for name in ("ca-bundle.pem", "consumer-cert.pem", "consumer-key.pem", "whitelist.xml"):
        download = portal.client.get(f"/downloads/{name}")
        assert download.status_code == 200, name
        assert "TEST-" in download.headers["content-disposition"]
    assert portal.client.get("/downloads/../../etc/passwd").status_code == 404
    token = portal.client.post("/token")
    issued = re.search(r'data-copy="(eyJ[^"]+)"', token.text)
    assert issued is not None
    assert portal.portal.env.issuer.jwks()["keys"]
    assert portal.client.get("/jwks.json").json() == portal.portal.env.issuer.jwks()


def test_datasets_list_every_exam_and_each_exam_page_its_kos_and_thumbnails(
    portal: PortalUnderTest,
) -> None:
    exams = list_exams(portal.store)
    listing = portal.client.get("/datasets")
    for exam in exams:
        assert exam.name in listing.text
        assert exam.patient_id in listing.text
        assert exam.kos is not None and exam.kos.sop_instance_uid in listing.text
    exam = exams[0]
    assert exam.kos is not None
    page = portal.client.get(f"/datasets/{exam.name}")
    assert f'data-copy="{exam.kos.sop_instance_uid}"' in page.text
    for series in exam_series(portal.store, exam.name):
        assert f"/series/{series.series_instance_uid}/thumbnail" in page.text
        thumb = portal.client.get(f"/series/{series.series_instance_uid}/thumbnail")
        assert thumb.headers["content-type"] == "image/png"
        assert thumb.content.startswith(b"\x89PNG")
    kos = portal.client.get(f"/datasets/{exam.name}/kos.dcm")
    assert kos.content[128:132] == b"DICM"
    assert zipfile.ZipFile(io.BytesIO(portal.client.get(f"/datasets/{exam.name}/xdm.zip").content))
    assert (
        b"ProvideAndRegisterDocumentSetRequest"
        in portal.client.get(f"/datasets/{exam.name}/pnr.xml").content
    )
    assert portal.client.get("/datasets/no-such-exam").status_code == 404


def test_import_of_a_zip_registers_the_exam_and_a_corrupt_one_says_why(
    portal: PortalUnderTest, tmp_path: Path
) -> None:
    exam = list_exams(portal.store)[0]
    series = exam_series(portal.store, exam.name)[0]
    files = [i.files[0].path for i in series.instances]
    # a copy of a known exam is refused (same UIDs): the reason is on the page, nothing stored
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for path in files:
            out.write(path, f"dir/{path.name}")
    before = len(list_exams(portal.store))
    again = portal.client.post(
        "/datasets/import",
        data={"name": "copy"},
        files={"archive": ("exam.zip", archive.getvalue(), "application/zip")},
    )
    assert again.status_code == 400
    assert 'class="error"' in again.text
    assert 'value="copy"' in again.text  # the form keeps what was typed
    assert len(list_exams(portal.store)) == before
    corrupt = portal.client.post(
        "/datasets/import", files={"archive": ("bad.zip", b"PK\x03\x04 not a zip", "x")}
    )
    assert corrupt.status_code == 400
    assert "not a readable zip archive" in corrupt.text


def test_a_zip_bomb_given_to_the_import_is_refused_before_unpacking(
    portal: PortalUnderTest,
) -> None:
    # the central directory names one compressed entry fifty times (overlapping entries)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("A0000", b"DICM" * 4096)
    data = archive.getvalue()
    cd_at, eocd_at = data.index(b"PK\x01\x02"), data.index(b"PK\x05\x06")
    entries = []
    for index in range(50):
        entry = bytearray(data[cd_at:eocd_at])
        entry[46:51] = f"A{index:04d}".encode()
        struct.pack_into("<I", entry, 42, index)
        entries.append(bytes(entry))
    directory = b"".join(entries)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 50, 50, len(directory), cd_at, 0)
    before = len(list_exams(portal.store))
    for language, message in (
        ("en", "its entries overlap"),
        ("fr", "ses entrées se chevauchent"),
    ):
        portal.client.cookies.set("drimlab_lang", language)
        refused = portal.client.post(
            "/datasets/import",
            files={"archive": ("bomb.zip", data[:cd_at] + directory + eocd, "application/zip")},
        )
        assert refused.status_code == 400
        assert message in refused.text
    assert len(list_exams(portal.store)) == before


def test_hostile_file_names_and_contents_are_escaped(portal: PortalUnderTest) -> None:
    hostile = '<script>alert("x")</script>.http'
    body = b"GET /studies/<script>alert(1)</script> HTTP/1.1\r\nHost: <b>x</b>\r\n\r\n"
    answer = portal.client.post(
        "/validate",
        data={"kind": "request", "profile": "drim-m"},
        files={"file": (hostile, body, "text/plain")},
    )
    assert answer.status_code == 200
    assert "<script>alert" not in answer.text
    assert "&lt;script&gt;" in answer.text or "_script_" in answer.text


def test_an_unreadable_upload_gives_one_line_and_keeps_the_form(portal: PortalUnderTest) -> None:
    answer = portal.client.post(
        "/validate",
        data={"kind": "kos", "profile": "dicomweb", "ignore": "KOS-001"},
        files={"file": ("notes.txt", b"not dicom", "text/plain")},
    )
    assert answer.status_code == 400
    reason = re.search(r'<p class="error" role="alert">([^<]*)</p>', answer.text)
    assert reason is not None and "\n" not in reason.group(1)
    assert "notes.txt" in reason.group(1) and "uploads" not in reason.group(1)
    assert 'value="KOS-001"' in answer.text
    assert '<option value="dicomweb" selected>' in answer.text
    assert not any((portal.settings.home / "uploads" / "validations").glob("*/file/*"))


def test_an_upload_over_the_limit_is_refused_before_it_is_read(portal: PortalUnderTest) -> None:
    big = b"x" * (portal.portal.upload_limit + 1)
    answer = portal.client.post(
        "/validate", data={"kind": "kos"}, files={"file": ("big.dcm", big, "x")}
    )
    assert answer.status_code == 413
    assert "limit" in answer.text


def test_report_downloads_in_every_format_come_from_the_stored_report(
    portal: PortalUnderTest, reference_dir: Path
) -> None:
    sample = reference_dir / "wado-rs" / "request-series.txt"
    answer = portal.client.post(
        "/validate",
        data={"kind": "request", "profile": "drim-m"},
        files={"file": (sample.name, sample.read_bytes(), "text/plain")},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    report_id = answer.headers["location"].split("/reports/")[1].split("?")[0]
    stored = load_report(portal.store, report_id)
    for fmt in ("html", "json", "text", "junit", "gazelle-json", "gazelle-xml"):
        got = portal.client.get(f"/reports/{report_id}/download/{fmt}")
        assert got.status_code == 200, fmt
    assert portal.client.get(f"/reports/{report_id}/download/json").json()["verdict"] == (
        stored.verdict.value
    )
    french = portal.client.get(
        f"/reports/{report_id}/download/html", headers={"Accept-Language": "fr"}
    )
    assert '<html lang="fr">' in french.text and "Règles et références" in french.text
    history = portal.client.get("/validate/history")
    assert report_id in history.text
    assert report_id in {r.id for r in list_reports(portal.store)}


def test_every_finding_links_to_its_rule_page(portal: PortalUnderTest, reference_dir: Path) -> None:
    sample = reference_dir / "wado-rs" / "request-series.txt"
    answer = portal.client.post(
        "/validate",
        data={"kind": "request"},
        files={"file": (sample.name, sample.read_bytes(), "text/plain")},
    )
    linked = r'href="/rules/([A-Z]+(?:-[A-Z]+)*-\d+)" class="rule-link"'
    codes = set(re.findall(linked, answer.text))
    assert codes
    for code in codes:
        assert portal.client.get(f"/rules/{code}").status_code == 200
    search = portal.client.get("/rules", params={"q": "KOS-SOPInstanceUID"})
    assert "DRIM-" in search.text


def test_language_follows_accept_language_then_the_switch(portal: PortalUnderTest) -> None:
    french = portal.client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in french.text
    assert "Environnement de test DRIM-M" in french.text
    english = portal.client.get("/", headers={"Accept-Language": "de, en;q=0.5"})
    assert '<html lang="en">' in english.text
    switched = portal.client.get("/lang/fr?next=/rules", follow_redirects=False)
    assert switched.headers["location"] == "/rules"
    assert portal.client.get("/lang/fr?next=//evil.example").headers.get("location", "/") in (
        "/",
        None,
    )
    portal.client.cookies.set("drimlab_lang", "fr")
    assert "Catalogue des règles" in portal.client.get("/rules").text


def test_part_ranges() -> None:
    assert part_ranges([5, 0, 1, 2, 7, 8]) == "0–2, 5, 7–8"
    assert part_ranges([]) == ""


def test_fault_modes_switch_on_a_simulator_in_the_same_process(portal: PortalUnderTest) -> None:
    from drimlab.simulators.index import CatalogIndex
    from drimlab.simulators.source import SourceApp, SourceConfig

    handlers = SourceApp(CatalogIndex(portal.store), SourceConfig(), None)
    portal.portal.simulator.handlers = handlers
    assert 'id="faults-form"' in portal.client.get("/server").text
    portal.client.post("/server/faults", data={"fault": ["truncated", "slow"], "match": "1.2"})
    assert portal.portal.simulator.faults() == ("truncated:1.2", "slow:1.2")
    page = portal.client.get("/server").text
    assert 'value="truncated" checked' in page
    portal.client.post("/server/faults", data={})
    assert handlers.config.faults == ()


def test_the_live_feed_waits_for_a_new_rows_report() -> None:
    import time
    from datetime import UTC, datetime

    from drimlab.portal.exchanges import ready_rows
    from drimlab.store.listings import ExchangeItem

    def item(name: str, verdict: str | None, age: float) -> ExchangeItem:
        when = datetime.fromtimestamp(time.time() - age, UTC)
        return ExchangeItem(name, when, "server", "GET", "/", 200, None, None, "", verdict, None)

    now = time.time()
    fresh = [item("a", "PASSED", 1), item("b", None, 1), item("c", "PASSED", 1)]
    assert [i.id for i in ready_rows(fresh, now)] == ["a"]  # b waits for its report, c for b
    assert [i.id for i in ready_rows([item("d", None, 60)], now)] == ["d"]  # too long: shown


def test_the_environment_page_says_when_the_simulators_store_cannot_be_written(
    portal: PortalUnderTest,
) -> None:
    from drimlab.exchange import Exchange
    from drimlab.simulators.index import CatalogIndex
    from drimlab.simulators.recording import Recorder
    from drimlab.simulators.source import SourceApp, SourceConfig
    from drimlab.store.journal import Journal, journal_dir

    index = CatalogIndex(portal.store)
    journal = Journal(journal_dir(portal.store))
    recorder = Recorder(portal.store, index, journal=journal)
    portal.portal.simulator.handlers = SourceApp(index, SourceConfig(), recorder)
    try:
        page = portal.client.get("/").text
        assert "writable: every request is recorded" in page
        journal.close()  # its next write fails, as on a full disk
        refusal = recorder.open("r1", Exchange(method="GET", target="/", origin="server"))
        assert refusal is not None and refusal.decision.status == 503
        page = portal.client.get("/").text
        assert "cannot be written: requests are refused with 503" in page
        assert "is closed" in page  # the reason, in the store's own words
        french = portal.client.get("/", headers={"Accept-Language": "fr"}).text
        assert "impossible d’écrire" in french
    finally:
        recorder.close()
