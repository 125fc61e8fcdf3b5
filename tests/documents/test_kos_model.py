"""The one KOS model: `read_kos` on the ANS samples and on the built-in KOS of every exam."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.uid import MRImageStorage

from drimlab.config import Settings
from drimlab.datasets import catalog
from drimlab.documents.kos import Issuer, Kos, read_kos
from drimlab.domain import INS_ISSUER, KOS_SOP_CLASS_UID, MANIFEST_TITLE
from drimlab.errors import InputError
from drimlab.store import Store, open_store
from drimlab.validation.documents import validate_kos_document

ANS_BASE = "http://localhost:4200/api/source"
ANS_STUDY = "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.3.116"
ANS_SERIES = (
    "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.6.116",
    "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.6.216",
)


@pytest.fixture
def default_store(default_dataset: Settings) -> Iterator[Store]:
    opened = open_store(default_dataset, migrate=False)
    yield opened
    opened.close()


def test_the_ans_example_kos(reference_dir: Path) -> None:
    path = reference_dir / "kos" / "ans-example-ko.dcm"
    kos = read_kos(path)
    assert kos.label == str(path)
    assert kos.sop_class_uid == KOS_SOP_CLASS_UID
    assert kos.sop_instance_uid == "1.3.2.751468943.3.1234.56838.231114144457.1.1.1"
    assert kos.study_instance_uid == ANS_STUDY
    assert kos.study_date == "20221215"
    assert (kos.patient_id, kos.issuer_of_patient_id) == ("162018885045327", INS_ISSUER)
    assert kos.patient_name == "PAT-SIX"
    assert kos.accession_number == "7252295367250016"
    assert kos.accession_issuer == Issuer("", "1.2.840.113619.6.196", "ISO")
    assert kos.accession_issuer.name == kos.accession_issuer.authority == "1.2.840.113619.6.196"
    assert kos.placer_order_number == "12989855966"
    assert kos.title == MANIFEST_TITLE.value
    assert tuple(s.series_instance_uid for s in kos.series) == ANS_SERIES
    for series in kos.series:
        assert series.study_instance_uid == ANS_STUDY
        assert series.retrieve_url == (
            f"{ANS_BASE}/studies/{ANS_STUDY}/series/{series.series_instance_uid}"
        )
        assert series.base_url == ANS_BASE
        assert len(series.instances) == 10
        assert {r.sop_class_uid for r in series.instances} == {MRImageStorage}
    assert (kos.base_url, kos.base_urls, kos.instance_count) == (ANS_BASE, (ANS_BASE,), 20)
    assert kos.problems == ()
    assert kos.dataset.SOPInstanceUID == kos.sop_instance_uid


def test_lookups_of_the_model(reference_dir: Path) -> None:
    kos = read_kos(reference_dir / "kos" / "ans-example-ko.dcm")
    second = kos.series_by_uid(ANS_SERIES[1])
    assert second is kos.series[1]
    assert kos.series_by_uid("1.2.3") is None
    first_image = kos.series[0].instances[0].sop_instance_uid
    assert kos.references(first_image)
    assert not kos.references(ANS_SERIES[0])


def test_the_ans_xdm_kos_reads_the_same_from_a_path_bytes_or_a_dataset(
    reference_dir: Path,
) -> None:
    path = reference_dir / "kos" / "xdm-KOS_1_1.dcm"
    read = [read_kos(path, label="k"), read_kos(path.read_bytes(), label="k")]
    read.append(read_kos(dcmread(path), label="k"))
    assert read[0] == read[1] == read[2]  # the parsed dataset is not part of equality
    kos = read[0]
    assert kos.sop_instance_uid == "1.3.2.751468943.3.1234.99352.240116151112.1.1.1"
    assert kos.accession_issuer.universal_entity_id == "1.2.840.113619.6.192"
    assert kos.placer_order_number == "12989855962"
    assert len(kos.series) == 1
    assert kos.instance_count == 10
    assert kos.base_url == ANS_BASE


def test_the_model_is_frozen(reference_dir: Path) -> None:
    kos = read_kos(reference_dir / "kos" / "ans-example-ko.dcm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        kos.sop_instance_uid = "1.2.3"  # type: ignore[misc]
    assert isinstance(hash(kos), int)


def test_reading_the_same_content_again_parses_it_once(reference_dir: Path) -> None:
    path = reference_dir / "kos" / "ans-example-ko.dcm"
    assert read_kos(path) is read_kos(path)
    assert read_kos(path.read_bytes()) is read_kos(path.read_bytes())
    assert read_kos(path, label="other").label == "other"


def test_built_in_kos_of_every_exam(default_store: Store) -> None:
    exams = catalog.list_exams(default_store)
    assert exams
    for exam in exams:
        assert exam.kos is not None
        kos = read_kos(exam.kos.path)
        assert isinstance(kos, Kos)
        assert kos.sop_instance_uid == exam.kos.sop_instance_uid
        assert kos.study_instance_uid == exam.study_instance_uid == exam.kos.study_instance_uid
        assert kos.base_url == exam.kos.retrieve_base_url
        assert kos.base_urls == (exam.kos.retrieve_base_url,)
        assert (kos.patient_id, kos.issuer_of_patient_id) == (exam.patient_id, INS_ISSUER)
        assert kos.accession_number == exam.accession_number
        assert kos.accession_issuer.name == exam.accession_issuer
        assert kos.title == MANIFEST_TITLE.value
        assert len(kos.series) == exam.series_count
        assert kos.instance_count == exam.instance_count
        assert kos.problems == ()
        for series in catalog.exam_series(default_store, exam.name):
            referenced = kos.series_by_uid(series.series_instance_uid)
            assert referenced is not None
            assert [r.sop_instance_uid for r in referenced.instances] == [
                i.sop_instance_uid for i in series.instances
            ]


def test_strict_reading_refuses_an_image_that_the_kos_rules_may_judge(
    default_store: Store,
) -> None:
    image = catalog.exam_series(default_store, "radio-thorax")[0].instances[0].files[0].path
    with pytest.raises(InputError, match=r"not a KOS \(SOP Class UID"):
        read_kos(image)
    lenient = read_kos(image, strict=False)
    assert lenient.series == ()
    report = validate_kos_document(lenient)
    assert "KOS-003" in {f.rule for f in report.findings}


def test_a_damaged_file_is_a_one_line_input_error(reference_dir: Path) -> None:
    data = (reference_dir / "kos" / "ans-example-ko.dcm").read_bytes()
    for damaged in (data[: len(data) // 2], b"not a DICOM file"):
        with pytest.raises(InputError) as caught:
            read_kos(damaged, label="damaged.dcm", strict=False)
        assert str(caught.value).startswith("damaged.dcm: ")
        assert "\n" not in str(caught.value)
