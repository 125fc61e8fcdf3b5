"""Pixel data a viewer can show: every part decodes with its transfer syntax's codec.

The built-in datasets pass in every transfer syntax they are stored in; a damaged RLE, JPEG-LS
and JPEG 2000 part each fail with DICOM-011; a frame count or a length that disagrees with
the attributes fails with DICOM-012.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from drimlab.config import Settings
from drimlab.datasets.catalog import InstanceInfo, exam_series, list_exams
from drimlab.dicomweb import multipart
from drimlab.documents.kos import read_kos
from drimlab.exchange import Exchange
from drimlab.store import open_store
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_response
from drimlab.validation.findings import Severity
from drimlab.validation.pixels import PixelSampler
from drimlab.validation.report import Report, Verdict

BOUNDARY = "drimlab-pixels"
ITEM = b"\xfe\xff\x00\xe0"


def _response(
    study: str,
    parts: list[tuple[str, bytes | Path]],
    *,
    kos_uid: str = "2.25.1",
    chunk: int = 256 * 1024,
) -> Exchange:
    """A 200 study retrieve whose parts are these files (read lazily) or bytes."""

    def chunks(source: bytes | Path) -> Iterator[bytes]:
        data = source.read_bytes() if isinstance(source, Path) else source
        for at in range(0, len(data), chunk):
            yield data[at : at + chunk]

    heads = [[("Content-Type", f"application/dicom; transfer-syntax={ts}")] for ts, _ in parts]
    body = multipart.encode(
        BOUNDARY, ((h, chunks(s)) for h, (_, s) in zip(heads, parts, strict=True))
    )
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    return Exchange(
        method="GET",
        target=f"https://source.example/dicom-web/studies/{study}",
        request_headers=(
            ("Host", "source.example"),
            ("Accept", accept),
            ("KOS-SOPInstanceUID", kos_uid),
        ),
        status=200,
        response_headers=(
            ("Content-Type", f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'),
            ("Transfer-Encoding", "chunked"),
            ("Strict-Transport-Security", "max-age=63072000"),
        ),
        response_body=body,
        origin="file",
    )


@pytest.fixture(scope="module")
def exams(default_dataset: Settings) -> list[tuple[str, Path | None, list[InstanceInfo]]]:
    """(study, KOS file, instances) of every built-in exam."""
    store = open_store(default_dataset)
    try:
        found = []
        for exam in list_exams(store):
            instances = [i for s in exam_series(store, exam.name) for i in s.instances]
            kos = exam.kos.path if exam.kos is not None else None
            found.append((exam.study_instance_uid, kos, instances))
        return found
    finally:
        store.close()


def _syntaxes(exams: list[tuple[str, Path | None, list[InstanceInfo]]]) -> set[str]:
    return {ts for _, _, instances in exams for i in instances for ts in i.transfer_syntaxes}


def test_built_in_datasets_pass_in_every_stored_transfer_syntax(
    exams: list[tuple[str, Path | None, list[InstanceInfo]]],
) -> None:
    syntaxes = _syntaxes(exams)
    assert {ExplicitVRLittleEndian, RLELossless, JPEGLSLossless, JPEG2000Lossless} <= syntaxes
    for study, kos_path, instances in exams:
        kos = read_kos(kos_path) if kos_path is not None else None
        kos_uid = kos.sop_instance_uid if kos is not None else "2.25.1"
        for ts in sorted(syntaxes):
            files = [(ts, f.path) for i in instances if (f := i.file(ts)) is not None]
            if not files:
                continue
            exchange = _response(study, files, kos_uid=kos_uid)
            report = validate_response(exchange, "drim-m", kos=kos)
            errors = [f.as_dict() for f in report.findings if f.severity is Severity.ERROR]
            assert report.verdict is Verdict.PASSED, (study, ts, errors)
            summary = report.facts["pixels"]
            assert summary["parts_with_pixel_data_decoded"] == len(files), (study, ts, summary)
            assert summary["frames_decoded"] >= len(files)
            assert {"DICOM-011", "DICOM-012"} <= set(report.rules_checked)


def _one(exams: list[tuple[str, Path | None, list[InstanceInfo]]], ts: str) -> tuple[str, bytes]:
    for study, _, instances in exams:
        for instance in instances:
            stored = instance.file(ts)
            if stored is not None and instance.number_of_frames > 1:
                return study, stored.path.read_bytes()
    raise AssertionError(f"no multi-frame instance stored in {ts}")


def _damage_first_fragment(data: bytes) -> bytes:
    """XOR the first bytes of the first frame's codestream (its header: RLE, SOI/SOF, SOC/SIZ)."""
    pixel_data = data.rfind(b"\xe0\x7f\x10\x00")
    offset_table = data.find(ITEM, pixel_data)
    fragment = data.find(ITEM, offset_table + 8) + 8
    damaged = bytearray(data)
    for at in range(fragment, fragment + 40):
        damaged[at] ^= 0xFF
    return bytes(damaged)


def _validate_one(study: str, ts: str, data: bytes, profile: str = "drim-m", **kw: int) -> Report:
    selection = Selection.of(profile, **kw)
    return validate_response(_response(study, [(ts, data)]), selection)


@pytest.mark.parametrize("ts", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_a_damaged_compressed_part_fails_as_undecodable(
    exams: list[tuple[str, Path | None, list[InstanceInfo]]], ts: str
) -> None:
    study, data = _one(exams, ts)
    assert _validate_one(study, ts, data).verdict is Verdict.PASSED
    report = _validate_one(study, ts, _damage_first_fragment(data))
    assert report.verdict is Verdict.FAILED
    (finding,) = [f for f in report.findings if f.severity is Severity.ERROR]
    assert finding.rule == "DICOM-011"
    assert finding.location.part == 0 and finding.location.tag_path == "(7FE0,0010)"
    assert "frame 1" in finding.message and UID(ts) in finding.message


def _rewritten(data: bytes, **changes: object) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_a_frame_count_the_pixel_data_does_not_hold_fails(
    exams: list[tuple[str, Path | None, list[InstanceInfo]]],
) -> None:
    study, data = _one(exams, JPEGLSLossless)
    frames = int(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).NumberOfFrames)
    report = _validate_one(study, JPEGLSLossless, _rewritten(data, NumberOfFrames=frames + 2))
    (finding,) = [f for f in report.findings if f.severity is Severity.ERROR]
    assert finding.rule == "DICOM-012"
    assert f"{frames} frame(s) in the pixel data, Number of Frames says {frames + 2}" in (
        finding.message
    )


def test_uncompressed_pixel_data_shorter_than_its_attributes_fails(
    exams: list[tuple[str, Path | None, list[InstanceInfo]]],
) -> None:
    study, data = _one(exams, ExplicitVRLittleEndian)
    pixels = pydicom.dcmread(io.BytesIO(data)).PixelData
    report = _validate_one(study, ExplicitVRLittleEndian, _rewritten(data, PixelData=pixels[:-512]))
    assert report.verdict is Verdict.FAILED
    assert {f.rule for f in report.findings if f.severity is Severity.ERROR} == {"DICOM-012"}


def test_a_syntax_without_an_installed_decoder_is_an_info_not_a_fault(
    exams: list[tuple[str, Path | None, list[InstanceInfo]]],
) -> None:
    study, data = _one(exams, ExplicitVRLittleEndian)
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PixelData = encapsulate([bytes(ds.PixelData)])
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.NumberOfFrames = 1
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    report = _validate_one(study, JPEGLosslessSV1, out.getvalue(), select=["DICOM"])
    (finding,) = [f for f in report.findings if f.rule == "DICOM-011"]
    assert finding.severity is Severity.INFO
    assert "no decoder plug-in" in finding.message
    assert report.verdict is Verdict.PASSED


def test_decoding_is_off_in_dicomweb_unless_sampled_and_off_with_zero(
    exams: list[tuple[str, Path | None, list[InstanceInfo]]],
) -> None:
    study, data = _one(exams, RLELossless)
    damaged = _damage_first_fragment(data)
    assert _validate_one(study, RLELossless, damaged, "dicomweb").verdict is Verdict.PASSED
    sampled = _validate_one(study, RLELossless, damaged, "dicomweb", pixel_sample=1)
    assert sampled.verdict is Verdict.FAILED
    off = _validate_one(study, RLELossless, damaged, pixel_sample=0)
    assert off.verdict is Verdict.PASSED and "pixels" not in off.facts
    assert "DICOM-011" in off.facts["rules_not_checked"]


def test_the_sampler_spreads_n_parts_over_the_response() -> None:
    sampler = PixelSampler(10)
    chosen = [i for i in range(1000) if sampler.wants(i)]
    assert chosen == [0, 1, 2, 3, 4, 5, 10, 20, 40, 80]
    everything = PixelSampler(None)
    assert all(everything.wants(i) for i in range(50))
    one = PixelSampler(1)
    assert [i for i in range(100) if one.wants(i)] == [0]


def test_the_sample_travels_with_the_selection() -> None:
    selection = Selection.of("drim-m", pixel_sample=3)
    assert selection.as_dict()["pixel_sample"] == 3
    assert Selection.from_dict(selection.as_dict()) == selection
    assert "pixel_sample" not in Selection.of("drim-m").as_dict()
