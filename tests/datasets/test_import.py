"""Importing folders of DICOM files: bad files listed, KOS kept or built, nothing half-done."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless

from drimlab.config import Settings
from drimlab.datasets import catalog
from drimlab.datasets.importer import import_directory
from drimlab.documents.kos import read_kos
from drimlab.errors import InputError
from drimlab.store import Store, open_store


@pytest.fixture
def default_store(default_dataset: Settings) -> Iterator[Store]:
    opened = open_store(default_dataset, migrate=False)
    yield opened
    opened.close()


def _copy_exam(store: Store, exam: str, syntax: str, dest: Path) -> list[Path]:
    """Copy one encoding of an exam into `dest/Série N/` folders (an ANS-like layout)."""
    copied = []
    for series in catalog.exam_series(store, exam):
        folder = dest / f"Série {series.series_number}"
        folder.mkdir(parents=True, exist_ok=True)
        for instance in series.instances:
            stored = instance.file(syntax)
            assert stored is not None
            target = folder / f"IM{instance.instance_number:04d}.dcm"
            shutil.copyfile(stored.path, target)
            copied.append(target)
    return copied


def _kos_path(store: Store, exam: str) -> Path:
    info = catalog.get_exam(store, exam)
    assert info.kos is not None
    return info.kos.path


def test_import_lists_bad_files_and_builds_a_kos(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "DICOM"
    copied = _copy_exam(default_store, "irm-encephale", JPEGLSLossless, source / "Examen 1")
    (source / "LISEZMOI.txt").write_text("Compte rendu non DICOM\n", encoding="utf-8")
    ct = catalog.exam_series(default_store, "ct-thorax-abdo")[1].instances[0]
    whole = ct.files[0].path.read_bytes()
    (source / "coupe.dcm").write_bytes(whole[: len(whole) // 2])

    report = import_directory(store, settings, source)

    skipped = {s.path.name: s.reason for s in report.skipped}
    assert set(skipped) == {"LISEZMOI.txt", "coupe.dcm"}
    assert "not a DICOM file" in skipped["LISEZMOI.txt"]
    assert "truncated" in skipped["coupe.dcm"]
    assert report.refused == ()
    assert report.notes == ()
    [imported] = report.imported
    assert imported.instance_count == len(copied) == 32
    assert imported.kos_origin == "built"

    exam = catalog.get_exam(store, imported.name)
    assert exam.origin == "imported"
    assert exam.transfer_syntaxes == tuple(sorted([ExplicitVRLittleEndian, JPEGLSLossless]))
    assert exam.kos is not None
    summary = read_kos(exam.kos.path)
    series = catalog.exam_series(store, exam.name)
    assert {r.sop_instance_uid for s in summary.series for r in s.instances} == {
        i.sop_instance_uid for s in series for i in s.instances
    }
    assert summary.base_url == settings.wado_base_url
    instance = series[0].instances[0]
    explicit = instance.file(ExplicitVRLittleEndian)
    original = instance.file(JPEGLSLossless)
    assert explicit is not None
    assert original is not None
    converted = dcmread(explicit.path)
    assert converted.SOPInstanceUID == instance.sop_instance_uid
    assert converted.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert (converted.pixel_array == dcmread(original.path).pixel_array).all()
    assert not any((settings.home / ".staging").iterdir())


def test_import_keeps_and_links_a_kos_found_among_the_files(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "export"
    _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, source / "Images DICOM")
    kos_source = _kos_path(default_store, "radio-thorax")
    (source / "KOS" / "Examen 2").mkdir(parents=True)
    shutil.copyfile(kos_source, source / "KOS" / "Examen 2" / "kos_2.dcm")

    report = import_directory(store, settings, source, name="thorax-import")

    [imported] = report.imported
    assert imported.name == "thorax-import"
    assert imported.kos_origin == "imported"
    assert report.skipped == () and report.notes == ()
    exam = catalog.get_exam(store, "thorax-import")
    assert [k.origin for k in exam.manifests] == ["imported"]
    assert exam.kos is not None
    assert exam.kos.path.read_bytes() == kos_source.read_bytes()
    assert exam.kos.sop_instance_uid == read_kos(kos_source).sop_instance_uid
    assert catalog.find_kos(store, exam.kos.sop_instance_uid) == exam.kos
    assert exam.transfer_syntaxes == (ExplicitVRLittleEndian,)


def test_reimporting_a_study_is_refused_without_duplicates(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, source)
    assert len(import_directory(store, settings, source).imported) == 1
    again = import_directory(store, settings, source)
    assert again.imported == ()
    assert len(again.refused) == 1
    assert "already in the catalogue as exam 'src'" in again.refused[0]
    assert [e.name for e in catalog.list_exams(store)] == ["src"]


def test_several_studies_get_numbered_names(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "two"
    _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, source / "a")
    _copy_exam(default_store, "echo-abdominale", ExplicitVRLittleEndian, source / "b")
    report = import_directory(store, settings, source, name="lot")
    assert sorted(e.name for e in report.imported) == ["lot-1", "lot-2"]
    other = tmp_path / "other"
    _copy_exam(default_store, "irm-encephale", ExplicitVRLittleEndian, other)
    with pytest.raises(InputError, match="already exists"):
        import_directory(store, settings, other, name="lot-1")
    with pytest.raises(InputError, match="exam name"):
        import_directory(store, settings, other, name="../escape")


def test_a_failure_in_the_middle_leaves_store_and_data_unchanged(
    default_store: Store,
    store: Store,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "two"
    _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, source / "a")
    _copy_exam(default_store, "echo-abdominale", ExplicitVRLittleEndian, source / "b")
    real_rename = Path.rename
    calls: list[Path] = []

    def rename_once_then_fail(self: Path, target: Path) -> Path:
        calls.append(Path(target))
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename_once_then_fail)
    with pytest.raises(OSError, match="No space left"):
        import_directory(store, settings, source)
    monkeypatch.undo()

    assert len(calls) == 2  # the first exam had been moved into place
    assert catalog.list_exams(store) == []
    assert not any(settings.datasets_dir.iterdir())
    assert not any((settings.home / ".staging").iterdir())
    # The store and the folder are usable again: the same import now succeeds.
    assert len(import_directory(store, settings, source).imported) == 2


def test_bad_sources(reference_dir: Path, store: Store, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such directory"):
        import_directory(store, settings, tmp_path / "missing")
    only_kos = tmp_path / "kos-only"
    only_kos.mkdir()
    shutil.copyfile(reference_dir / "kos" / "xdm-KOS_1_1.dcm", only_kos / "KOS_1_1.DCM")
    report = import_directory(store, settings, only_kos)
    assert report.imported == ()
    assert "none of its images" in report.refused[0]
    assert catalog.list_exams(store) == []


def test_a_media_folder_with_dicomdir(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    from pydicom import Dataset, FileMetaDataset
    from pydicom.uid import MediaStorageDirectoryStorage, generate_uid

    media = tmp_path / "CD"
    _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, media / "DICOM")
    index = Dataset()
    index.file_meta = FileMetaDataset()
    index.file_meta.MediaStorageSOPClassUID = MediaStorageDirectoryStorage
    index.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    index.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    index.FileSetID = "CD"
    index.DirectoryRecordSequence = []
    index.save_as(media / "DICOMDIR", enforce_file_format=True)

    report = import_directory(store, settings, media)
    assert [(s.path.name, s.reason) for s in report.skipped] == [
        ("DICOMDIR", "a DICOMDIR (index of a media), not an instance")
    ]
    [imported] = report.imported
    assert imported.instance_count == 2
    assert imported.name == "cd"


def test_implicit_vr_files_get_an_explicit_vr_copy(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    from pydicom.uid import ImplicitVRLittleEndian

    source = tmp_path / "implicit"
    for path in _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, source):
        ds = dcmread(path)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=True)
    [imported] = import_directory(store, settings, source).imported
    exam = catalog.get_exam(store, imported.name)
    assert exam.transfer_syntaxes == (ImplicitVRLittleEndian, ExplicitVRLittleEndian)
    for series in catalog.exam_series(store, exam.name):
        for instance in series.instances:
            explicit = instance.file(ExplicitVRLittleEndian)
            implicit = instance.file(ImplicitVRLittleEndian)
            assert explicit is not None and implicit is not None
            converted, original = dcmread(explicit.path), dcmread(implicit.path)
            assert converted.SOPInstanceUID == instance.sop_instance_uid
            assert (converted.pixel_array == original.pixel_array).all()


def test_over_long_values_are_refused_the_same_way_on_every_database(
    default_store: Store, store: Store, settings: Settings, tmp_path: Path
) -> None:
    import warnings

    import pydicom

    source = tmp_path / "DICOM"
    copied = _copy_exam(default_store, "radio-thorax", ExplicitVRLittleEndian, source)
    for path in copied:
        ds = pydicom.dcmread(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pydicom: longer than LO allows
            ds.InstitutionName = "H" * 300  # LO allows 64 in DICOM, the catalogue 256
            ds.save_as(path)
    with pytest.raises(InputError, match=r"exams.institution_name \(300 > 256 characters\)"):
        import_directory(store, settings, source)
    assert catalog.list_exams(store) == []
    assert not any((settings.datasets_dir).glob("*/**/*.dcm"))
