"""The server simulator against real clients: dicomweb-client, httpx, and our validator."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

from drimlab.exchange import Exchange
from drimlab.validation.engine import ResponseValidator
from drimlab.validation.findings import Severity
from drimlab.validation.report import Report

DRIM_ACCEPT = ",".join(
    f'multipart/related; type="application/dicom";transfer-syntax={ts};q={q}'
    for ts, q in [(JPEGLSLossless, 0.8), (JPEG2000Lossless, 0.6), (ExplicitVRLittleEndian, 0.4)]
)


def fetch_and_validate(url: str, headers: dict[str, str], kos=None) -> tuple[int, Report]:
    """GET url, feed the response to the streaming validator as it arrives."""
    request = Exchange(
        method="GET",
        target=httpx.URL(url).raw_path.decode(),
        request_headers=tuple(headers.items()),
        origin="client",
    )
    validator = ResponseValidator(request, "drim-m", kos=kos)
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        validator.feed_headers(response.status_code, raw)
        for chunk in response.iter_raw():
            validator.feed(chunk)
        validator.feed(b"")
        status = response.status_code
    return status, validator.close()


def _pixels_match(received: pydicom.Dataset, stored_path) -> bool:
    stored = pydicom.dcmread(stored_path)
    return bool(np.array_equal(received.pixel_array, stored.pixel_array))


def retrieve_everything(index, make_client) -> int:
    """Retrieve every study, series and instance with dicomweb-client; check UIDs and pixels."""
    retrieved = 0
    for exam in index.snapshot.exams.values():
        client = make_client(exam)
        expected = {
            i.sop_instance_uid: i
            for s in index.series_of(exam.study_instance_uid)
            for i in s.instances
        }
        study = client.retrieve_study(exam.study_instance_uid)
        assert sorted(ds.SOPInstanceUID for ds in study) == sorted(expected)
        for ds in study:
            assert _pixels_match(ds, expected[ds.SOPInstanceUID].file(ExplicitVRLittleEndian).path)
        for series in index.series_of(exam.study_instance_uid):
            got = client.retrieve_series(exam.study_instance_uid, series.series_instance_uid)
            assert sorted(ds.SOPInstanceUID for ds in got) == sorted(
                i.sop_instance_uid for i in series.instances
            )
            for instance in series.instances:
                ds = client.retrieve_instance(
                    exam.study_instance_uid, series.series_instance_uid, instance.sop_instance_uid
                )
                assert ds.SOPInstanceUID == instance.sop_instance_uid
                assert _pixels_match(ds, instance.file(ExplicitVRLittleEndian).path)
                retrieved += 1
    return retrieved


def test_dicomweb_client_retrieves_every_study_series_and_instance(start_simulator) -> None:
    sim = start_simulator()
    count = retrieve_everything(
        sim.index,
        lambda exam: DICOMwebClient(sim.base, headers=sim.headers(exam.study_instance_uid)),
    )
    assert count == len(sim.index.snapshot.instances)


@pytest.mark.parametrize(
    ("accept", "expected_ts"),
    [
        (None, ExplicitVRLittleEndian),
        ('multipart/related; type="application/dicom"', ExplicitVRLittleEndian),
        (DRIM_ACCEPT, JPEGLSLossless),
        (
            f'multipart/related; type="application/dicom"; transfer-syntax={RLELossless}',
            RLELossless,
        ),
        (
            f'multipart/related; type="application/dicom"; transfer-syntax={JPEG2000Lossless}',
            JPEG2000Lossless,
        ),
        ('multipart/related; type="application/dicom"; transfer-syntax=*', ExplicitVRLittleEndian),
    ],
)
def test_accept_negotiation_and_valid_responses(start_simulator, accept, expected_ts) -> None:
    sim = start_simulator()
    exam = next(iter(sim.index.snapshot.exams.values()))
    series = sim.index.series_of(exam.study_instance_uid)[0]
    headers = sim.headers(exam.study_instance_uid)
    if accept is not None:
        headers["Accept"] = accept
    url = f"{sim.base}/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
    status, report = fetch_and_validate(url, headers)
    assert status == 200
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    assert errors == []
    assert {p.transfer_syntax_uid for p in report.parts} == {expected_ts}
    assert len(report.parts) == len(series.instances)


def test_no_error_on_any_resource_of_the_default_dataset(start_simulator) -> None:
    sim = start_simulator()
    for exam in sim.index.snapshot.exams.values():
        headers = sim.headers(exam.study_instance_uid) | {"Accept": DRIM_ACCEPT}
        study_url = f"{sim.base}/studies/{exam.study_instance_uid}"
        urls = [study_url]
        for series in sim.index.series_of(exam.study_instance_uid):
            series_url = f"{study_url}/series/{series.series_instance_uid}"
            urls.append(series_url)
            urls += [f"{series_url}/instances/{i.sop_instance_uid}" for i in series.instances[:2]]
        for url in urls:
            status, report = fetch_and_validate(url, headers)
            assert status == 200, url
            assert [f for f in report.findings if f.severity is Severity.ERROR] == [], url


def test_drim_gate_statuses(start_simulator) -> None:
    sim = start_simulator()
    exams = list(sim.index.snapshot.exams.values())
    exam, other = exams[0], exams[1]
    url = f"{sim.base}/studies/{exam.study_instance_uid}"
    good = sim.headers(exam.study_instance_uid)

    def status(headers: dict[str, str], target: str = url) -> int:
        return httpx.get(target, headers=headers, timeout=30).status_code

    assert status(good) == 200
    assert status({k: v for k, v in good.items() if k != "Authorization"}) == 401
    assert status(good | {"Authorization": f"Bearer {sim.issuer.issue(lifetime=-3600)}"}) == 401
    assert status(good | {"Authorization": "Bearer not.a.jwt"}) == 401
    assert status({k: v for k, v in good.items() if k != "KOS-SOPInstanceUID"}) == 400
    other_kos = sim.headers(other.study_instance_uid)["KOS-SOPInstanceUID"]
    assert status(good | {"KOS-SOPInstanceUID": other_kos}) == 404
    assert status(good | {"KOS-SOPInstanceUID": "1.2.3.4"}) == 404
    assert status(good, f"{sim.base}/studies/1.2.3.999") == 404
    assert status(good, f"{sim.base}/studies/{exam.study_instance_uid}/series/1.2.3") == 404
    assert status(good, f"{sim.base}/studies/1.02.3") == 400
    assert status(good, f"{sim.base}/studies/{exam.study_instance_uid}/series") == 400
    lossy = "1.2.840.10008.1.2.4.50"
    only_lossy = {"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={lossy}'}
    assert status(good | only_lossy) == 406
    challenge = httpx.get(url, headers={"KOS-SOPInstanceUID": good["KOS-SOPInstanceUID"]})
    assert challenge.headers["WWW-Authenticate"].startswith("Bearer")
    assert httpx.post(url, headers=good).status_code == 405


def test_hsts_and_content_length_on_retrieve(start_simulator) -> None:
    sim = start_simulator()
    exam = next(iter(sim.index.snapshot.exams.values()))
    response = httpx.get(
        f"{sim.base}/studies/{exam.study_instance_uid}",
        headers=sim.headers(exam.study_instance_uid),
    )
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["Content-Type"].startswith(
        'multipart/related; type="application/dicom"'
    )


def test_metadata_bulkdata_frames_rendered(start_simulator) -> None:
    sim = start_simulator()
    exam = next(iter(sim.index.snapshot.exams.values()))
    series = sim.index.series_of(exam.study_instance_uid)[0]
    instance = series.instances[0]
    headers = sim.headers(exam.study_instance_uid)
    base = f"{sim.base}/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
    meta = httpx.get(f"{base}/metadata", headers=headers)
    assert meta.status_code == 200
    assert meta.headers["Content-Type"] == "application/dicom+json"
    items = meta.json()
    assert len(items) == len(series.instances)
    uri = items[0]["7FE00010"]["BulkDataURI"]
    bulk = httpx.get(uri, headers=headers)
    assert bulk.status_code == 200
    stored = pydicom.dcmread(instance.file(ExplicitVRLittleEndian).path)
    assert stored.PixelData in bulk.content
    frame = httpx.get(f"{base}/instances/{instance.sop_instance_uid}/frames/1", headers=headers)
    assert frame.status_code == 200
    assert (
        httpx.get(
            f"{base}/instances/{instance.sop_instance_uid}/frames/999", headers=headers
        ).status_code
        == 400
    )
    for accept, magic in (("image/jpeg", b"\xff\xd8"), ("image/png", b"\x89PNG")):
        rendered = httpx.get(
            f"{base}/instances/{instance.sop_instance_uid}/rendered",
            headers=headers | {"Accept": accept},
        )
        assert rendered.status_code == 200
        assert rendered.content.startswith(magic)


def _wait_recorded(sim, count: int) -> None:
    """Recording happens after each response is sent: wait until `count` are stored."""
    assert sim.recorder.wait_for(count, timeout=120)


def test_every_request_is_a_stored_validated_exchange(start_simulator) -> None:
    from drimlab.store.records import load_exchange, load_report

    sim = start_simulator()
    exam = next(iter(sim.index.snapshot.exams.values()))
    series = sim.index.series_of(exam.study_instance_uid)[0]
    url = f"{sim.base}/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
    headers = sim.headers(exam.study_instance_uid) | {"Accept": DRIM_ACCEPT, "X-Order": "1"}
    assert httpx.get(url, headers=headers).status_code == 200
    assert httpx.get(url, headers={"Accept": DRIM_ACCEPT}).status_code == 401
    _wait_recorded(sim, 2)
    # recorded as each answer ends: a quick 401 may be stored before the 200 it followed
    by_status = {
        load_exchange(sim.store, r.exchange_id).status: r for r in sim.recorder.recorded[:2]
    }
    good, refused = by_status[200], by_status[401]
    assert good.report.verdict.value == "PASSED"
    assert refused.report.verdict.value == "FAILED"
    assert {f.rule for f in refused.report.findings} >= {"DRIM-001", "DRIM-005"}
    stored = load_exchange(sim.store, good.exchange_id)
    assert stored.status == 200
    assert [name for name, _ in stored.request_headers][-1] == "X-Order"  # raw order kept
    assert load_report(sim.store, good.report_id).verdict.value == "PASSED"
    from drimlab.store.queries import stored_exchange

    row = stored_exchange(sim.store, good.exchange_id)
    assert row is not None
    assert [p["sop_instance_uid"] for p in row.parts] == [
        i.sop_instance_uid for i in series.instances
    ]
    assert all(len(p["sha256"]) == 64 for p in row.parts)
    assert row.timings["bytes_sent"] > 0
    assert row.kos_sop_instance_uid == headers["KOS-SOPInstanceUID"]


def test_fifty_concurrent_consumers_are_all_recorded_unmixed(start_simulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from drimlab.store.queries import list_exchanges, stored_exchange

    sim = start_simulator()
    jobs = []
    for exam in sim.index.snapshot.exams.values():
        for series in sim.index.series_of(exam.study_instance_uid):
            url = (
                f"{sim.base}/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
            )
            jobs.append((url, exam.study_instance_uid, series))
    jobs = (jobs * 10)[:60]

    def retrieve(job):
        url, study, _series = job
        with httpx.Client(timeout=120) as client:
            response = client.get(url, headers=sim.headers(study) | {"Accept": DRIM_ACCEPT})
        return response.status_code, len(response.content)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(retrieve, jobs))
    assert all(status == 200 for status, _ in results)
    _wait_recorded(sim, len(jobs))
    by_series = {s.series_instance_uid: s for _, _, s in jobs}
    listed = list_exchanges(sim.store, limit=len(jobs) + 1, origin="server")
    rows = [stored_exchange(sim.store, item.id) for item in listed]
    assert len(rows) == len(jobs)
    for row in rows:
        series_uid = row.target.split("/series/")[1].split("/")[0]
        assert [p["sop_instance_uid"] for p in row.parts] == [
            i.sop_instance_uid for i in by_series[series_uid].instances
        ]


def test_an_exam_added_while_running_is_served(start_simulator, default_dataset_copy) -> None:
    from dataclasses import replace

    from drimlab.datasets.catalog import generate_dataset, get_exam
    from drimlab.datasets.synthetic import dataset_specs

    sim = start_simulator()
    base = next(s for s in dataset_specs("default") if s.name == "radio-thorax")
    generate_dataset(
        sim.store, default_dataset_copy, "extra", specs=[replace(base, name="radio-bis", seed=7)]
    )
    exam = get_exam(sim.store, "radio-bis")
    assert exam.kos is not None
    headers = {
        "Authorization": f"Bearer {sim.issuer.issue()}",
        "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
    }
    time.sleep(sim.index._refresh_interval)  # the reload is rate-limited
    response = httpx.get(f"{sim.base}/studies/{exam.study_instance_uid}", headers=headers)
    assert response.status_code == 200
    assert response.content.count(b"DICM") == exam.instance_count
