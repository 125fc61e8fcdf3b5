"""XSS through uploaded contents and file names, in a real headless Chromium: markup in a DICOM
import's patient name and descriptions, in a validator upload's name and content, in a PREUVE
evidence name, is shown as text on every page that shows it, and no script runs.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
from pydicom.uid import generate_uid

from drimlab.config import Settings
from drimlab.datasets.catalog import exam_series, list_exams

from .browser import WAIT_MS, Lab, chromium, served_lab

pytestmark = [pytest.mark.peer, pytest.mark.slow]

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
IMG_NAME = "<img src=x onerror=alert(1)>.txt"
SCENARIO = "DRIM-M_SO_REPONSE_WADO"


def _hostile_instance(lab: Lab) -> bytes:
    """A copy of a dataset instance in a new study whose names carry markup."""
    exam = list_exams(lab.store)[0]
    series = exam_series(lab.store, exam.name)[0]
    dataset = pydicom.dcmread(series.instances[0].files[0].path)
    dataset.PatientName = SCRIPT
    dataset.StudyDescription = ATTRIBUTE
    dataset.SeriesDescription = SCRIPT + ATTRIBUTE
    dataset.StudyInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    out = io.BytesIO()
    dataset.save_as(out)
    return out.getvalue()


def _uploads(lab: Lab) -> list[str]:
    """Upload everything hostile through the portal; the paths of the pages that show it."""
    request = (
        f"GET /dicom-web/studies/{SCRIPT}/series/1 HTTP/1.1\r\n"
        f"Host: localhost\r\nAccept: {ATTRIBUTE}\r\nX-Note: {SCRIPT}\r\n\r\n"
    ).encode()
    with httpx.Client(base_url=lab.url(""), timeout=120) as client:
        imported = client.post(
            "/datasets/import",
            data={"name": "xss-exam"},
            files={"files": (IMG_NAME, _hostile_instance(lab), "application/dicom")},
        )
        assert imported.status_code == 303, imported.text[:2000]
        validated = client.post(
            "/validate",
            data={"kind": "request", "profile": "drim-m"},
            files={"file": (IMG_NAME, request, "text/plain")},
        )
        assert validated.status_code == 303, validated.text[:2000]
        report_id = re.findall(r"/reports/([0-9a-f-]{36})", validated.headers["location"])[0]
        history = client.get("/api/validations").json()["items"]
        assert any(item["id"] == report_id for item in history)
        exchange_id = client.get(f"/api/validations/{report_id}").json()["exchangeId"]
        run = client.post("/api/runs", json={"scenario": SCENARIO}).json()
        evidence = client.post(
            f"/api/runs/{run['id']}/evidence/source-log",
            params={"filename": IMG_NAME},
            content=f"{SCRIPT}\n{ATTRIBUTE}\n".encode(),
        )
        assert evidence.status_code == 201, evidence.text
    return [
        "/datasets",
        "/datasets/xss-exam",
        f"/reports/{report_id}?alone=1",
        f"/exchanges/{exchange_id}",
        f"/exchanges/{exchange_id}?report={report_id}",
        "/validate/history",
        "/server",
        f"/api/validations/{report_id}/report?format=html",
        f"/runs/{run['id']}",
        "/scenarios",
    ]


@pytest.fixture
def lab(default_dataset_copy: Settings) -> Any:
    with served_lab(default_dataset_copy) as served:
        yield served


def test_markup_in_uploaded_names_and_contents_never_runs_in_a_browser(
    lab: Lab, tmp_path: Path
) -> None:
    paths = _uploads(lab)
    dialogs: list[str] = []
    with chromium() as browser:
        context = browser.new_context(extra_http_headers={"Accept-Language": "en"})
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        page.on(
            "dialog",
            lambda dialog: (dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()),
        )
        shown: dict[str, str] = {}
        for path in paths:
            answer = page.goto(lab.url(path))
            assert answer is not None and answer.status == 200, path
            assert "script-src 'self'" in answer.headers["content-security-policy"], path
            page.wait_for_load_state("load")
            text = page.locator("body").inner_text()
            shown[path] = text
            # the markup is text on the page, never elements
            assert page.locator('img[src="x"]').count() == 0, path
            assert page.locator("script:not([src])").count() == 0, path
            assert page.evaluate("typeof window.alert") == "function"
        context.close()
    assert not dialogs, dialogs
    # each page did show the hostile text, as text
    assert SCRIPT in shown["/datasets"]  # the patient's name
    for path in paths[1:5] + paths[7:8]:  # the exam, the report, the exchange, the HTML report
        assert SCRIPT in shown[path] and ATTRIBUTE in shown[path], path
    assert "img_src_x_onerror_alert_1_.txt" in shown["/validate/history"]  # the upload's name
