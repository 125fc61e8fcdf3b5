"""The dciodvfy wrapper, against the real dicom3tools checker."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drimlab.datasets.synthetic import exam_spec, write_exam
from drimlab.dciodvfy import available, parse_output, run_dciodvfy
from drimlab.errors import ConfigurationError, InputError

pytestmark = pytest.mark.peer

# Real output of `dciodvfy -new` on a CT missing most attributes (abridged).
DICOMDIR = "Missing attribute or value that would be needed to build DICOMDIR"
CT_OUTPUT = (
    f"Warning - </PatientID(0010,0020)> - {DICOMDIR}\n"
    f"Warning - </InstanceNumber(0020,0013) > - {DICOMDIR}\n"
    "CTImage\n"
    "Error - </PatientName(0010,0010)> - Missing attribute for Type 2 Required - Module=<Patient>\n"
    "Error - </ImageType(0008,0008)> - A value is required for value 3 in CT Images\n"
)


def test_parse_output_splits_iod_errors_and_warnings() -> None:
    result = parse_output(CT_OUTPUT, 1)
    assert result.iod == "CTImage"
    assert result.exit_code == 1
    assert [(m.location, m.text) for m in result.errors] == [
        ("/PatientName(0010,0010)", "Missing attribute for Type 2 Required - Module=<Patient>"),
        ("/ImageType(0008,0008)", "A value is required for value 3 in CT Images"),
    ]
    assert [m.location for m in result.warnings] == [
        "/PatientID(0010,0020)",
        "/InstanceNumber(0020,0013)",
    ]
    assert all(m.severity == "warning" for m in result.warnings)
    assert all(m.severity == "error" for m in result.errors)
    assert not result.ok


def test_parse_output_keeps_messages_without_location_and_aborts() -> None:
    text = 'Error - Dicom dataset read failed\nAbort - File open for read failed - "/x.dcm"\n'
    result = parse_output(text, 1)
    assert result.iod == ""
    assert [(m.location, m.text) for m in result.errors] == [
        (None, "Dicom dataset read failed"),
        (None, 'File open for read failed - "/x.dcm"'),
    ]


def test_parse_output_never_drops_a_line_nor_a_failure_status() -> None:
    result = parse_output("CTImage\nsomething new and strange\n", 3)
    assert result.iod == "CTImage"
    assert [m.text for m in result.warnings] == ["unrecognised output: something new and strange"]
    assert [m.text for m in result.errors] == ["dciodvfy exited with status 3"]


def test_available_and_a_clean_synthetic_instance(tmp_path: Path) -> None:
    assert available()
    (path, *_) = write_exam(exam_spec("default", "radio-thorax"), tmp_path)
    result = run_dciodvfy(path)
    assert result.iod == "DXImageForPresentation"
    assert result.ok and result.errors == () and result.exit_code == 0


def test_a_broken_instance_gets_located_errors(tmp_path: Path) -> None:
    (path, *_) = write_exam(exam_spec("default", "radio-thorax"), tmp_path)
    subprocess.run(
        ["dcmodify", "-nb", "-ea", "(0010,0010)", "-ea", "(0020,000d)", str(path)], check=True
    )
    result = run_dciodvfy(path)
    assert result.exit_code == 1
    assert not result.ok
    locations = {m.location for m in result.errors}
    assert "/PatientName(0010,0010)" in locations
    assert "/StudyInstanceUID(0020,000d)" in locations


def test_the_ans_kos_sample_has_only_warnings(reference_dir: Path) -> None:
    result = run_dciodvfy(reference_dir / "kos" / "ans-example-ko.dcm")
    assert result.iod == "KeyObjectSelectionDocument"
    assert result.errors == ()
    assert any("RetrieveURL(0008,1190)" in (m.location or "") for m in result.warnings)


def test_a_non_dicom_file_is_reported_as_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"hello\n")
    result = run_dciodvfy(junk)
    assert result.exit_code != 0
    assert result.errors


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run_dciodvfy(tmp_path / "absent.dcm")


def test_not_installed_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shutil.which("dciodvfy") is not None
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not available()
    with pytest.raises(ConfigurationError, match="dicom3tools"):
        run_dciodvfy(tmp_path / "any.dcm")
