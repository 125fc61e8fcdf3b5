"""Bounded resources: frames and bulk data stream from the file, frame lists are checked."""

from __future__ import annotations

import httpx
import pydicom
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.simulators.rendering import MAX_FRAMES_PER_REQUEST


def _cine(sim):
    """(headers, instance URL, instance) of the default dataset's multi-frame instance."""
    for exam in sim.index.snapshot.exams.values():
        for series in sim.index.series_of(exam.study_instance_uid):
            for instance in series.instances:
                ds = pydicom.dcmread(
                    instance.file(ExplicitVRLittleEndian).path, stop_before_pixels=True
                )
                if int(ds.get("NumberOfFrames", 1) or 1) > 1:
                    url = (
                        f"{sim.base}/studies/{exam.study_instance_uid}/series/"
                        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
                    )
                    return (
                        sim.headers(exam.study_instance_uid),
                        url,
                        instance,
                        int(ds.NumberOfFrames),
                    )
    raise AssertionError("the default dataset has no multi-frame instance")


def test_frames_are_the_slices_of_the_pixel_data(start_simulator) -> None:
    sim = start_simulator()
    headers, url, instance, count = _cine(sim)
    pixels = pydicom.dcmread(instance.file(ExplicitVRLittleEndian).path).PixelData
    size = len(pixels) // count
    wanted = [count, 1, count // 2]
    response = httpx.get(f"{url}/frames/{','.join(map(str, wanted))}", headers=headers)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.content.count(b"Content-Type: application/octet-stream") == len(wanted)
    for frame in wanted:
        assert pixels[(frame - 1) * size : frame * size] in response.content
    bulk = httpx.get(f"{url}/bulkdata", headers=headers)
    assert bulk.status_code == 200
    assert pixels in bulk.content


def test_a_repeated_frame_is_refused_and_recorded_with_its_cause(start_simulator) -> None:
    sim = start_simulator()
    headers, url, _, count = _cine(sim)
    before = len(sim.recorder.recorded)
    response = httpx.get(f"{url}/frames/{','.join(['1'] * 2000)}", headers=headers)
    assert response.status_code == 400
    assert response.json()["cause"] == "frame-list-invalid"
    too_long = ",".join(str(1 + i % count) for i in range(MAX_FRAMES_PER_REQUEST + 1))
    assert httpx.get(f"{url}/frames/{too_long}", headers=headers).status_code == 400
    assert sim.recorder.wait_for(before + 2, timeout=60)
    for recorded in sim.recorder.recorded[before:]:
        messages = [f.message for f in recorded.report.findings if f.rule == "REFUSAL-005"]
        assert messages and "frame-list-invalid" in messages[0]


def test_metadata_is_one_json_array_of_every_instance(start_simulator) -> None:
    sim = start_simulator()
    exam = next(iter(sim.index.snapshot.exams.values()))
    response = httpx.get(
        f"{sim.base}/studies/{exam.study_instance_uid}/metadata",
        headers=sim.headers(exam.study_instance_uid),
    )
    assert response.status_code == 200
    items = response.json()
    expected = sum(len(s.instances) for s in sim.index.series_of(exam.study_instance_uid))
    assert len(items) == expected
    assert all("BulkDataURI" in item["7FE00010"] for item in items)
