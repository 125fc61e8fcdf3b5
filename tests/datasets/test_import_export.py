"""`dataset import` takes a file, a folder or a zip; `dataset export` writes an exam out to load
it into one's own PACS or DRIMBox (issue 17)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.datasets import catalog
from drimlab.datasets.export import export_exam
from drimlab.datasets.import_source import import_path
from drimlab.errors import InputError
from drimlab.store import Store, open_store

EXAM = "radio-thorax"


@pytest.fixture
def default_store(default_dataset: Settings) -> Iterator[Store]:
    opened = open_store(default_dataset, migrate=False)
    yield opened
    opened.close()


@pytest.fixture
def exported(default_store: Store, default_dataset: Settings, tmp_path: Path) -> Path:
    return export_exam(default_store, default_dataset, EXAM, tmp_path / "export").target


def test_export_writes_every_instance_and_the_kos(
    default_store: Store, exported: Path, tmp_path: Path
) -> None:
    exam = catalog.get_exam(default_store, EXAM)
    images = sorted(p for p in exported.rglob("*.dcm") if p.parent.name != "kos")
    assert len(images) == exam.instance_count
    for path in images:
        ds = dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert path.parent.name == ds.SeriesInstanceUID
        assert path.stem == ds.SOPInstanceUID
    assert exam.kos is not None
    assert (exported / "kos" / f"{exam.kos.sop_instance_uid}.dcm").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # nothing half-written beside it


def test_export_in_another_syntax_or_refused_in_one_line(
    default_store: Store, default_dataset: Settings, tmp_path: Path
) -> None:
    done = export_exam(
        default_store, default_dataset, EXAM, tmp_path / "jls", transfer_syntax=JPEGLSLossless,
        with_kos=False,
    )  # fmt: skip
    assert done.kos is None and not (tmp_path / "jls" / "kos").exists()
    assert {dcmread(p).file_meta.TransferSyntaxUID for p in (tmp_path / "jls").rglob("*.dcm")} == {
        JPEGLSLossless
    }
    with pytest.raises(
        InputError, match=r"have no 1\.2\.840\.10008\.1\.2\.4\.50 .*every instance has"
    ):
        export_exam(default_store, default_dataset, EXAM, tmp_path / "jpeg",
                    transfer_syntax="1.2.840.10008.1.2.4.50")  # fmt: skip
    assert not (tmp_path / "jpeg").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        export_exam(default_store, default_dataset, EXAM, tmp_path / "full")


def test_import_a_single_file(store: Store, settings: Settings, exported: Path) -> None:
    image = next(p for p in exported.rglob("*.dcm") if p.parent.name != "kos")
    summary = import_path(store, settings, image)
    assert [e.instance_count for e in summary.imported] == [1]
    assert summary.imported[0].name == image.stem[:48].replace(".", "-")
    assert summary.source == image


def test_import_a_zip_names_its_members_as_given(
    store: Store, settings: Settings, exported: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "Examen radio.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in exported.rglob("*"):
            if path.is_file():
                zipped.write(path, f"DICOM/{path.relative_to(exported)}")
        zipped.writestr("../escape.dcm", b"outside")
        zipped.writestr("LISEZMOI.txt", b"not DICOM")
        nameless = zipfile.ZipInfo("x")
        nameless.filename = ""  # a damaged or crafted member: read as no file at all
        zipped.writestr(nameless, b"data")
    summary = import_path(store, settings, archive)
    (exam,) = summary.imported
    assert exam.name == "examen-radio"
    assert exam.kos_origin == "imported"
    reasons = {str(s.path): s.reason for s in summary.skipped}
    assert reasons[f"{archive}!../escape.dcm"] == "a path outside the archive"
    assert f"{archive}!LISEZMOI.txt" in reasons
    assert list((settings.home / ".staging").iterdir()) == []  # the unpacked copy is gone


def test_import_refuses_a_damaged_zip_or_a_missing_path_in_one_line(
    settings: Settings, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "cut.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(next(exported.rglob("*.dcm")), "a.dcm")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    assert run(["dataset", "import", str(archive)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"drimlab: error: {archive}: a damaged zip archive")
    assert run(["dataset", "import", str(tmp_path / "absent.dcm")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert (
        line == f"drimlab: error: {tmp_path / 'absent.dcm'}: no such directory, file or zip archive"
    )


def test_the_cli_export_and_show_say_where_the_files_are(
    default_dataset_copy: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["dataset", "show", EXAM]) == 0
    out = capsys.readouterr().out
    assert f"files      {default_dataset_copy.home / 'datasets' / EXAM}" in out
    assert f"drimlab dataset export {EXAM} DIR" in out
    assert run(["dataset", "export", EXAM, str(tmp_path / "out")]) == 0
    assert f"-> {tmp_path / 'out'}" in capsys.readouterr().out
    assert run(["dataset", "export", EXAM, str(tmp_path / "out")]) == 2
    assert "not empty" in capsys.readouterr().err
