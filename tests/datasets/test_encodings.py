"""Lossless pre-encodings: exact pixels, valid files, one fragment per frame, clean failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.encaps import parse_basic_offsets, parse_fragments
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from drimlab.datasets.encodings import PRE_ENCODED_SYNTAXES, encode_file
from drimlab.dciodvfy import run_dciodvfy
from drimlab.errors import InputError

EncodedSet = dict[str, list[tuple[Path, Path]]]


def test_pre_encoded_syntaxes() -> None:
    assert (RLELossless, JPEGLSLossless, JPEG2000Lossless) == PRE_ENCODED_SYNTAXES


@pytest.mark.parametrize("syntax", PRE_ENCODED_SYNTAXES, ids=lambda s: s.name)
def test_decoding_gives_back_the_original_pixels(syntax: UID, encoded_set: EncodedSet) -> None:
    for source, dest in encoded_set[syntax]:
        original = dcmread(source)
        encoded = dcmread(dest)
        assert encoded.file_meta.TransferSyntaxUID == syntax
        assert encoded.SOPInstanceUID == original.SOPInstanceUID
        assert encoded.file_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID
        expected, actual = original.pixel_array, encoded.pixel_array
        assert actual.dtype == expected.dtype
        assert np.array_equal(actual, expected), f"{dest.name} in {syntax.name}"


@pytest.mark.parametrize("syntax", PRE_ENCODED_SYNTAXES, ids=lambda s: s.name)
def test_every_encoded_file_passes_dciodvfy(syntax: UID, encoded_set: EncodedSet) -> None:
    for _, dest in encoded_set[syntax]:
        result = run_dciodvfy(dest)
        assert result.errors == (), f"{dest.name}: {[str(m) for m in result.errors]}"


@pytest.mark.parametrize("syntax", PRE_ENCODED_SYNTAXES, ids=lambda s: s.name)
def test_one_fragment_per_frame_with_a_basic_offset_table(
    syntax: UID, encoded_set: EncodedSet
) -> None:
    for _, dest in encoded_set[syntax]:
        ds = dcmread(dest)
        frames = int(ds.get("NumberOfFrames", 1))
        data = ds.PixelData
        offsets = parse_basic_offsets(data)
        count, _ = parse_fragments(data[8 + 4 * len(offsets) :])
        assert count == frames
        assert len(offsets) == frames
        if frames > 1:
            assert offsets[0] == 0 and offsets == sorted(offsets)


def test_default_set_with_all_encodings_is_under_50_mb(
    default_root: Path, encoded_set: EncodedSet
) -> None:
    total = sum(p.stat().st_size for p in default_root.rglob("*.dcm"))
    assert encoded_set  # all encodings are on disk
    assert 5_000_000 < total < 50_000_000


def test_compression_actually_happened(encoded_set: EncodedSet) -> None:
    for syntax in PRE_ENCODED_SYNTAXES:
        raw = sum(s.stat().st_size for s, _ in encoded_set[syntax])
        packed = sum(d.stat().st_size for _, d in encoded_set[syntax])
        assert packed < raw * 0.8, syntax.name


def _first_source(encoded_set: EncodedSet) -> Path:
    return encoded_set[RLELossless][0][0]


def test_garbage_source_is_an_input_error(tmp_path: Path) -> None:
    source = tmp_path / "junk.dcm"
    source.write_bytes(b"this is not DICOM at all" * 10)
    dest = tmp_path / "out" / "junk.dcm"
    with pytest.raises(InputError, match=r"junk\.dcm: not a readable DICOM"):
        encode_file(source, RLELossless, dest)
    assert not dest.parent.exists() or not any(dest.parent.iterdir())


def test_truncated_source_is_an_input_error(tmp_path: Path, encoded_set: EncodedSet) -> None:
    data = _first_source(encoded_set).read_bytes()
    source = tmp_path / "truncated.dcm"
    source.write_bytes(data[: len(data) // 2])
    dest = tmp_path / "out" / "truncated.dcm"
    for syntax in PRE_ENCODED_SYNTAXES:
        with pytest.raises(InputError, match=r"truncated\.dcm"):
            encode_file(source, syntax, dest)
    assert not dest.parent.exists() or not any(dest.parent.iterdir())


def test_missing_source_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        encode_file(tmp_path / "absent.dcm", RLELossless, tmp_path / "out.dcm")


def test_unsupported_syntax_is_an_input_error(tmp_path: Path, encoded_set: EncodedSet) -> None:
    source = _first_source(encoded_set)
    for syntax in (JPEGBaseline8Bit, ExplicitVRLittleEndian, "1.2.3.4"):
        with pytest.raises(InputError, match="unsupported pre-encoding transfer syntax"):
            encode_file(source, syntax, tmp_path / "out.dcm")
    assert not (tmp_path / "out.dcm").exists()


def test_an_already_compressed_source_is_an_input_error(
    tmp_path: Path, encoded_set: EncodedSet
) -> None:
    _, compressed = encoded_set[RLELossless][0]
    with pytest.raises(InputError, match="expected Explicit VR Little Endian"):
        encode_file(compressed, JPEGLSLossless, tmp_path / "out.dcm")


def test_existing_destination_is_replaced_whole(tmp_path: Path, encoded_set: EncodedSet) -> None:
    source, reference = encoded_set[JPEGLSLossless][0]
    dest = tmp_path / "dest.dcm"
    dest.write_bytes(b"old content")
    encode_file(source, JPEGLSLossless, dest)
    assert dest.read_bytes() == reference.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["dest.dcm"]
