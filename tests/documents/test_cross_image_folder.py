"""`validate cross --image FOLDER` takes every image of an exported exam (issue 17: one
`--image IMG.dcm` fails XVAL-007 for an exam with several images)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.config import Settings


def test_cross_validation_of_an_exported_exam_with_its_image_folder(
    default_dataset_copy: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exam = tmp_path / "exam"
    assert run(["dataset", "export", "radio-thorax", str(exam)]) == 0
    assert run(["dataset", "export-pnr", "radio-thorax", str(tmp_path / "pnr.xml")]) == 0
    (kos,) = (exam / "kos").glob("*.dcm")
    capsys.readouterr()
    one = next(p for p in exam.rglob("*.dcm") if p.parent.name != "kos")
    base = ["validate", "cross", "--kos", str(kos), "--xds", str(tmp_path / "pnr.xml")]
    assert run([*base, "--image", str(one)]) == 1
    assert "XVAL-007" in capsys.readouterr().out  # the other image is not given
    assert run([*base, "--image", str(exam)]) == 0  # the KOS under it is not an image
    assert capsys.readouterr().out.startswith("PASSED")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run([*base, "--image", str(empty)]) == 2
    assert "no DICOM image in this folder" in capsys.readouterr().err
