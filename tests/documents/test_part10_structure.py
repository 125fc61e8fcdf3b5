"""A truncated or damaged DICOM file is named as such, with its offset, in one line (issue 17)."""

from __future__ import annotations

import struct
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread, dcmwrite
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from drimlab.cli import run
from drimlab.documents.kos import read_kos
from drimlab.documents.part10_structure import MAX_DEPTH, structure_problem
from drimlab.errors import InputError

from .conftest import FIXTURES

GOOD_KOS = FIXTURES / "kos" / "good.dcm"


def test_every_fixture_and_ans_sample_is_sound(reference_dir: Path) -> None:
    files = [*FIXTURES.rglob("*.dcm"), *reference_dir.rglob("*.dcm")]
    assert len(files) > 20
    for path in files:
        assert structure_problem(path.read_bytes()) is None, path


def _reencoded(syntax: str) -> bytes:
    ds = dcmread(GOOD_KOS)
    ds.file_meta.TransferSyntaxUID = syntax
    out = BytesIO()
    dcmwrite(out, ds, enforce_file_format=True)  # dcmwrite converts the byte order too
    return out.getvalue()


@pytest.mark.parametrize(
    "syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
)
def test_other_encodings_are_sound(syntax: str) -> None:
    assert structure_problem(_reencoded(syntax)) is None


def test_a_file_cut_anywhere_inside_an_element_or_sequence_is_truncated() -> None:
    data = GOOD_KOS.read_bytes()
    content = data.index(b"\x40\x00\x30\xa7SQ")  # (0040,A730) ContentSequence, the last one
    found = {structure_problem(data[:cut]) is not None for cut in range(content + 1, len(data))}
    assert found == {True}
    problem = structure_problem(data[: len(data) // 2])
    assert problem is not None
    assert problem.startswith(f"truncated DICOM: the file ends at offset {len(data) // 2} inside ")


def test_damaged_vr_bytes_are_corrupt_at_their_offset() -> None:
    data = bytearray(GOOD_KOS.read_bytes())
    at = data.index(b"\x08\x00\x16\x00UI")  # (0008,0016) SOPClassUID, explicit VR LE
    data[at + 4 : at + 6] = b"\x43\x09"
    assert structure_problem(bytes(data)) == (
        f"corrupt DICOM at offset {at}: (0008,0016) SOPClassUID has no valid VR (bytes 43 09)"
    )


def test_sequences_nested_without_end_are_refused() -> None:
    ds = dcmread(GOOD_KOS)
    for element in list(ds):
        if element.tag > 0x00080016:
            del ds[element.tag]
    head = BytesIO()
    ds.save_as(head, enforce_file_format=True)  # the File Meta and the first elements
    nested = (struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF) +
              struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)) * (MAX_DEPTH + 2)  # fmt: skip
    problem = structure_problem(head.getvalue() + nested)
    assert problem is not None and "nested deeper than 64" in problem


def test_read_kos_and_the_cli_name_the_truncation_in_one_line(
    tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.dcm"
    data = GOOD_KOS.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match="truncated DICOM"):
        read_kos(cut)
    for argv in (["validate", "kos", str(cut)], ["dataset", "read-kos", str(cut)]):
        assert run(argv) == 2
        out = capsys.readouterr()
        assert out.out == ""
        (line,) = out.err.strip().splitlines()
        assert line.startswith(f"drimlab: error: {cut}: truncated DICOM: the file ends at offset ")
