"""Every built-in exam: its KOS passes `validate kos` and `validate cross` with its images, and
an XDM archive built from it passes `validate xdm`, then fails precisely once tampered with."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from drimlab import cli
from drimlab.config import Settings
from drimlab.datasets.catalog import exam_series, list_exams
from drimlab.dciodvfy import checker
from drimlab.documents.xdm import build_xdm
from drimlab.store import open_store
from drimlab.validation.documents import validate_xdm
from drimlab.validation.report import Verdict


def _exams(settings: Settings) -> list[tuple[str, Path, list[Path]]]:
    store = open_store(settings)
    try:
        found = []
        for exam in list_exams(store):
            images = [i.files[0].path for s in exam_series(store, exam.name) for i in s.instances]
            found.append((exam.name, exam.manifests[0].path, images))
        return found
    finally:
        store.close()


def _report(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict[str, object]]:
    status = cli.run(argv)
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_every_builtin_kos_passes_kos_and_cross(
    default_dataset_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    exams = _exams(default_dataset_copy)
    assert len(exams) >= 4
    for name, kos, images in exams:
        status, report = _report(capsys, ["validate", "kos", str(kos), "-f", "json"])
        assert (status, report["verdict"]) == (0, "PASSED"), name
        argv = ["validate", "cross", "--kos", str(kos), "-f", "json"]
        for image in images:
            argv += ["--image", str(image)]
        status, report = _report(capsys, argv)
        assert (status, report["verdict"]) == (0, "PASSED"), name
        assert "XVAL-007" in report["rules_checked"]  # type: ignore[operator]
        assert report["findings"] == []


@pytest.fixture
def exam_archive(default_dataset: Settings, tmp_path: Path) -> Path:
    name, kos, images = next(e for e in _exams(default_dataset) if len(e[2]) > 1)
    return build_xdm(kos, images, tmp_path / f"{name}.zip")


def _rewrite(source: Path, target: Path, *, drop: str = "", alter: str = "") -> Path:
    with zipfile.ZipFile(source) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members.pop(drop, None)
    if alter:
        # Same size, still a valid KOS: only the hash can tell (the description text changed).
        members[alter] = members[alter].replace(b"Examen :", b"EXAMEN :", 1)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def test_builtin_exam_xdm_passes(exam_archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, report = _report(capsys, ["validate", "xdm", str(exam_archive), "-f", "json"])
    assert (status, report["verdict"]) == (0, "PASSED")
    rules_checked = report["rules_checked"]
    assert isinstance(rules_checked, list)
    checked = set(rules_checked)
    assert {"XDM-005", "XDM-007", "XDS-007", "KOS-012", "XVAL-007"} <= checked


def test_builtin_exam_xdm_without_its_kos_fails_precisely(
    exam_archive: Path, tmp_path: Path
) -> None:
    broken = _rewrite(exam_archive, tmp_path / "no-kos.zip", drop="IHE_XDM/SUBSET01/KOS.DCM")
    report = validate_xdm(broken, checker=checker())
    assert report.verdict is Verdict.FAILED
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert [f.rule for f in errors] == ["XDM-005"]
    assert "KOS.DCM is not in the archive" in errors[0].message


def test_builtin_exam_xdm_with_altered_kos_fails_precisely(
    exam_archive: Path, tmp_path: Path
) -> None:
    broken = _rewrite(exam_archive, tmp_path / "altered.zip", alter="IHE_XDM/SUBSET01/KOS.DCM")
    report = validate_xdm(broken, checker=checker())
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert [f.rule for f in errors] == ["XDM-007"]
    assert errors[0].location.path == "IHE_XDM/SUBSET01/KOS.DCM"


def test_builtin_exam_xdm_with_a_missing_image_fails_the_cross_check(
    exam_archive: Path, tmp_path: Path
) -> None:
    broken = _rewrite(exam_archive, tmp_path / "no-image.zip", drop="IMAGES/IM000001.DCM")
    report = validate_xdm(broken, checker=checker())
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert [f.rule for f in errors] == ["XVAL-007"]
    assert errors[0].location.path is not None
    assert errors[0].location.path.startswith("IHE_XDM/SUBSET01/KOS.DCM")
