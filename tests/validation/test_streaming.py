"""Streaming: a response of a few hundred MB built lazily is validated in bounded memory.

This measures memory (tracemalloc's peak), never time.
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Iterator
from io import BytesIO

import pytest
from pydicom import Dataset, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from drimlab.dicomweb.multipart import encode
from drimlab.exchange import Exchange
from drimlab.validation.engine import validate_response
from drimlab.validation.report import Verdict

STUDY = "1.2.826.0.1.3680043.10.543.7"
SERIES = f"{STUDY}.1"
ROWS, COLUMNS = 2048, 1024  # 16-bit: 4 MiB of pixels per part
PARTS = 64  # 256 MiB of pixel data in total
CHUNK = 256 * 1024


def _header(index: int) -> bytes:
    """A Part 10 file up to (and including) the Pixel Data element header."""
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = f"{SERIES}.{index + 1}"
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES
    ds.Modality = "OT"
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)
    pixel_tag = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, ROWS * COLUMNS * 2)
    return out.getvalue() + pixel_tag


def _pixels() -> Iterator[bytes]:
    block = bytes(CHUNK)
    for _ in range(ROWS * COLUMNS * 2 // CHUNK):
        yield block


def _part(index: int) -> Iterator[bytes]:
    yield _header(index)
    yield from _pixels()


def _body() -> Iterator[bytes]:
    parts = (
        (
            [("Content-Type", f"application/dicom; transfer-syntax={ExplicitVRLittleEndian}")],
            _part(i),
        )
        for i in range(PARTS)
    )
    return encode("drimlab-stream", parts)


@pytest.mark.slow
def test_hundreds_of_megabytes_in_bounded_memory() -> None:
    exchange = Exchange(
        status=200,
        response_headers=(
            (
                "Content-Type",
                'multipart/related; type="application/dicom"; boundary=drimlab-stream',
            ),
            ("Transfer-Encoding", "chunked"),
        ),
        response_body=_body(),
    )
    tracemalloc.start()
    try:
        report = validate_response(exchange, "dicomweb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.verdict is Verdict.PASSED, [f.as_dict() for f in report.findings]
    assert len(report.parts) == PARTS
    assert sum(p.size for p in report.parts) > PARTS * ROWS * COLUMNS * 2
    assert len({p.sha256 for p in report.parts}) == PARTS
    assert peak < 50 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
