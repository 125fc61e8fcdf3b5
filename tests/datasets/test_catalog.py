"""The catalogue: generating the default dataset, its layout on disk, and the queries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.config import Settings
from drimlab.datasets import catalog
from drimlab.datasets.encodings import PRE_ENCODED_SYNTAXES
from drimlab.datasets.synthetic import dataset_specs
from drimlab.documents.kos import read_kos
from drimlab.errors import InputError
from drimlab.store import Store, open_store
from drimlab.store.catalog import exam_rows, series_rows_of_exam

ALL_SYNTAXES = tuple(sorted([ExplicitVRLittleEndian, *PRE_ENCODED_SYNTAXES]))


@pytest.fixture
def default_store(default_dataset: Settings) -> Iterator[Store]:
    opened = open_store(default_dataset, migrate=False)
    yield opened
    opened.close()


@pytest.fixture
def copy_store(default_dataset_copy: Settings) -> Iterator[Store]:
    opened = open_store(default_dataset_copy)
    yield opened
    opened.close()


def test_default_dataset_is_catalogued_with_every_encoding(default_store: Store) -> None:
    specs = {spec.name: spec for spec in dataset_specs("default")}
    exams = {exam.name: exam for exam in catalog.list_exams(default_store)}
    assert set(exams) == set(specs)
    for name, exam in exams.items():
        assert exam.dataset == "default"
        assert exam.origin == "synthetic"
        assert exam.instance_count == specs[name].instance_count
        assert exam.series_count == len(specs[name].series)
        assert exam.transfer_syntaxes == ALL_SYNTAXES
        assert exam.issuer_of_patient_id == "ASIP-SANTE-INS-NIR"
        assert len(exam.patient_id) == 15
        assert exam.accession_number
        assert len(exam.manifests) == 1
        assert exam.kos is not None
        assert exam.kos.origin == "built"


def test_layout_and_stored_paths_are_relative_to_the_home(
    default_store: Store, default_dataset: Settings
) -> None:
    home = default_dataset.home
    exams = exam_rows(default_store)  # as stored: paths relative to the home
    files = [
        (row, instance)
        for exam in exams
        for series in series_rows_of_exam(default_store, exam.name)
        for instance in series.instances
        for row in instance.files
    ]
    for row, instance in files[:20]:
        assert not Path(row.path).is_absolute()
        parts = Path(row.path).parts
        assert parts[0] == "datasets"
        assert parts[2] == row.transfer_syntax_uid
        assert parts[-1] == f"{instance.sop_instance_uid}.dcm"
        assert parts[-2] == instance.series_instance_uid
        assert (home / row.path).stat().st_size == row.size
    for kos in (manifest for exam in exams for manifest in exam.manifests):
        assert Path(kos.path).parts[2] == "kos"
        assert Path(kos.path).name == f"{kos.sop_instance_uid}.dcm"
    for exam in exams:
        assert exam.root_dir == f"datasets/{exam.name}"
    assert not any((home / ".staging").iterdir())


def test_every_encoding_is_the_same_instance(default_store: Store) -> None:
    instance = catalog.exam_series(default_store, "irm-encephale")[0].instances[0]
    assert instance.transfer_syntaxes == ALL_SYNTAXES
    for stored in instance.files:
        ds = dcmread(stored.path)
        assert ds.SOPInstanceUID == instance.sop_instance_uid
        assert ds.file_meta.TransferSyntaxUID == stored.transfer_syntax_uid
        assert hashlib.sha256(stored.path.read_bytes()).hexdigest() == stored.sha256
        assert stored.path.stat().st_size == stored.size


def test_queries_the_server_simulator_needs(default_store: Store) -> None:
    exam = catalog.get_exam(default_store, "ct-thorax-abdo")
    assert catalog.find_exam(default_store, exam.study_instance_uid) == exam
    assert catalog.find_exam(default_store, "no-such-exam") is None
    with pytest.raises(InputError, match="no exam named"):
        catalog.get_exam(default_store, "no-such-exam")

    series = catalog.exam_series(default_store, exam.name)
    assert [s.series_number for s in series] == sorted(s.series_number or 0 for s in series)
    found = catalog.find_series(default_store, series[1].series_instance_uid)
    assert found == series[1]
    assert found.study_instance_uid == exam.study_instance_uid
    assert catalog.find_series(default_store, "1.2.3") is None

    instance = found.instances[0]
    assert catalog.find_instance(default_store, instance.sop_instance_uid) == instance
    assert catalog.find_instance(default_store, "1.2.3") is None
    rle = catalog.instance_file(default_store, instance.sop_instance_uid, "1.2.840.10008.1.2.5")
    assert rle is not None
    assert rle == instance.file("1.2.840.10008.1.2.5")
    assert rle.path.is_file()
    assert (
        catalog.instance_file(default_store, instance.sop_instance_uid, "1.2.840.10008.1.2") is None
    )

    assert exam.kos is not None
    assert catalog.exam_kos(default_store, exam.name) == exam.manifests
    assert catalog.find_kos(default_store, exam.kos.sop_instance_uid) == exam.kos
    assert catalog.find_kos(default_store, "1.2.3") is None
    assert read_kos(exam.kos.path).sop_instance_uid == exam.kos.sop_instance_uid


def test_generation_is_idempotent(copy_store: Store, default_dataset_copy: Settings) -> None:
    before = catalog.list_exams(copy_store)
    assert catalog.generate_dataset(copy_store, default_dataset_copy, "default") == []
    assert catalog.ensure_default_dataset(copy_store, default_dataset_copy) == []
    assert catalog.list_exams(copy_store) == before


def test_unknown_dataset_is_an_input_error(store: Store, settings: Settings) -> None:
    with pytest.raises(InputError, match="unknown synthetic dataset"):
        catalog.generate_dataset(store, settings, "huge")


def test_failed_generation_leaves_nothing(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tuple(s for s in dataset_specs("default") if s.name == "radio-thorax")
    seen: list[str] = []

    def broken(staged: object, base_url: str) -> Path:
        seen.append(base_url)
        raise RuntimeError("disk full")

    monkeypatch.setattr(catalog, "add_built_kos", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        catalog.generate_dataset(store, settings, "default", specs=small)
    assert seen  # the failure happened after writing and encoding
    assert catalog.list_exams(store) == []
    assert not settings.datasets_dir.exists() or not any(settings.datasets_dir.iterdir())
    assert not any((settings.home / ".staging").iterdir())


def test_ensure_default_generates_on_first_use(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = tuple(s for s in dataset_specs("default") if s.name == "radio-thorax")
    monkeypatch.setattr(catalog, "dataset_specs", lambda name: small)
    made = catalog.ensure_default_dataset(store, settings)
    assert [e.name for e in made] == ["radio-thorax"]
    assert catalog.ensure_default_dataset(store, settings) == []
    exam = catalog.get_exam(store, "radio-thorax")
    assert exam.instance_count == 2
    assert exam.transfer_syntaxes == ALL_SYNTAXES


def test_kos_for_another_base_is_built_once(
    copy_store: Store, default_dataset_copy: Settings
) -> None:
    base = "http://127.0.0.1:8042/dicom-web"
    first = catalog.kos_for_base(copy_store, default_dataset_copy, "irm-encephale", base + "/")
    again = catalog.kos_for_base(copy_store, default_dataset_copy, "irm-encephale", base)
    assert first == again
    assert first.origin == "built"
    assert first.retrieve_base_url == base
    summary = read_kos(first.path)
    assert summary.base_url == base
    exam = catalog.get_exam(copy_store, "irm-encephale")
    assert [k.sop_instance_uid for k in exam.manifests][1:] == [first.sop_instance_uid]
    assert exam.kos is not None
    assert summary.instance_count == read_kos(exam.kos.path).instance_count
    with pytest.raises(InputError, match="base URL"):
        catalog.kos_for_base(copy_store, default_dataset_copy, "irm-encephale", "ftp://x")
