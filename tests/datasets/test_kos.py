"""The DRIM-M KOS: built for generated exams (checked by dciodvfy), read from ANS samples."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import KeyObjectSelectionDocumentStorage, MRImageStorage

from drimlab import dciodvfy
from drimlab.config import Settings
from drimlab.datasets import catalog
from drimlab.datasets.kos_build import build_kos, retrieve_url, write_kos
from drimlab.documents.kos import read_kos
from drimlab.domain import INS_ISSUER, INS_ISSUER_OID
from drimlab.errors import InputError
from drimlab.store import Store, open_store

ANS_EXAMPLE_STUDY = "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.3.116"
ANS_XDM_STUDY = "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.3.12"
ANS_BASE = "http://localhost:4200/api/source"


@pytest.fixture
def default_store(default_dataset: Settings) -> Iterator[Store]:
    opened = open_store(default_dataset, migrate=False)
    yield opened
    opened.close()


def _headers(store: Store, exam: str) -> list[Dataset]:
    return [
        dcmread(instance.files[0].path, stop_before_pixels=True)
        for series in catalog.exam_series(store, exam)
        for instance in series.instances
    ]


@pytest.mark.peer
@pytest.mark.skipif(not dciodvfy.available(), reason="dciodvfy (dicom3tools) is not installed")
def test_kos_of_every_generated_exam_passes_dciodvfy(default_store: Store) -> None:
    for exam in catalog.list_exams(default_store):
        assert exam.kos is not None
        result = dciodvfy.run_dciodvfy(exam.kos.path)
        assert result.iod == "KeyObjectSelectionDocument"
        assert result.errors == (), [str(e) for e in result.errors]
        # The only expected warnings: Retrieve URL is an extension of the standard item.
        for warning in result.warnings:
            assert "RetrieveURL" in (warning.location or "") + warning.text or (
                "not present in standard DICOM IOD" in warning.text
            ), str(warning)
        assert any("(0008,1190)" in (w.location or "") for w in result.warnings)


def test_kos_references_every_instance_with_retrieve_urls(
    default_store: Store, default_dataset: Settings
) -> None:
    for exam in catalog.list_exams(default_store):
        assert exam.kos is not None
        summary = read_kos(exam.kos.path)
        series = catalog.exam_series(default_store, exam.name)
        expected = {(i.sop_class_uid, i.sop_instance_uid) for s in series for i in s.instances}
        referenced = {
            (r.sop_class_uid, r.sop_instance_uid) for s in summary.series for r in s.instances
        }
        assert referenced == expected
        assert summary.study_instance_uid == exam.study_instance_uid
        assert summary.base_url == default_dataset.wado_base_url
        assert summary.problems == ()
        for item in summary.series:
            assert item.retrieve_url == retrieve_url(
                default_dataset.wado_base_url, exam.study_instance_uid, item.series_instance_uid
            )
        assert [s.series_instance_uid for s in summary.series] == [
            s.series_instance_uid for s in series
        ]


def test_kos_carries_the_drim_m_profile(default_store: Store) -> None:
    exam = catalog.get_exam(default_store, "ct-thorax-abdo")
    assert exam.kos is not None
    kos = dcmread(exam.kos.path)
    assert kos.SOPClassUID == KeyObjectSelectionDocumentStorage
    assert kos.Modality == "KO"
    assert kos.ValueType == "CONTAINER"
    assert kos.ContinuityOfContent == "SEPARATE"
    title = kos.ConceptNameCodeSequence[0]
    assert (title.CodeValue, title.CodingSchemeDesignator, title.CodeMeaning) == (
        "113030",
        "DCM",
        "Manifest",
    )
    assert kos.PatientID == exam.patient_id
    assert kos.IssuerOfPatientID == INS_ISSUER
    qualifier = kos.IssuerOfPatientIDQualifiersSequence[0]
    assert (qualifier.UniversalEntityID, qualifier.UniversalEntityIDType) == (
        INS_ISSUER_OID,
        "ISO",
    )
    other = kos.OtherPatientIDsSequence[0]
    assert other.PatientID == exam.patient_id
    assert other.IssuerOfPatientID == INS_ISSUER
    request = kos.ReferencedRequestSequence[0]
    assert request.AccessionNumber == exam.accession_number
    assert request.StudyInstanceUID == exam.study_instance_uid
    assert request.IssuerOfAccessionNumberSequence
    texts = [i for i in kos.ContentSequence if i.ValueType == "TEXT"]
    images = [i for i in kos.ContentSequence if i.ValueType == "IMAGE"]
    assert len(texts) == 1
    assert texts[0].ConceptNameCodeSequence[0].CodeValue == "113012"
    assert exam.study_description in texts[0].TextValue
    assert len(images) == exam.instance_count
    assert kos.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


def test_kos_uids_depend_only_on_exam_and_base(default_store: Store, tmp_path: Path) -> None:
    headers = _headers(default_store, "irm-encephale")
    first = build_kos(headers, "https://a.example/dicom-web")
    again = build_kos(list(reversed(headers)), "https://a.example/dicom-web/")
    other = build_kos(headers, "https://b.example/wado")
    assert first.SOPInstanceUID == again.SOPInstanceUID
    assert first.SeriesInstanceUID == again.SeriesInstanceUID
    assert other.SOPInstanceUID != first.SOPInstanceUID
    write_kos(first, tmp_path / "a.dcm")
    write_kos(again, tmp_path / "b.dcm")
    assert (tmp_path / "a.dcm").read_bytes() == (tmp_path / "b.dcm").read_bytes()
    assert read_kos(tmp_path / "a.dcm").base_url == "https://a.example/dicom-web"


def test_build_kos_refuses_bad_input(default_store: Store) -> None:
    ct = _headers(default_store, "ct-thorax-abdo")
    mr = _headers(default_store, "irm-encephale")
    with pytest.raises(InputError, match="two studies"):
        build_kos([*ct, *mr], "https://a.example")
    with pytest.raises(InputError, match="base URL"):
        build_kos(ct, "localhost/dicom-web")
    with pytest.raises(InputError, match="no image"):
        build_kos([], "https://a.example")


def test_reader_on_the_ans_example_kos(reference_dir: Path) -> None:
    summary = read_kos(reference_dir / "kos" / "ans-example-ko.dcm")
    assert summary.sop_instance_uid == "1.3.2.751468943.3.1234.56838.231114144457.1.1.1"
    assert summary.study_instance_uid == ANS_EXAMPLE_STUDY
    assert (summary.patient_id, summary.issuer_of_patient_id) == (
        "162018885045327",
        "ASIP-SANTE-INS-NIR",
    )
    assert summary.accession_number == "7252295367250016"
    assert summary.title == "113030"
    assert [s.series_instance_uid for s in summary.series] == [
        "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.6.116",
        "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.6.216",
    ]
    for series in summary.series:
        assert series.retrieve_url == (
            f"{ANS_BASE}/studies/{ANS_EXAMPLE_STUDY}/series/{series.series_instance_uid}"
        )
        assert len(series.instances) == 10
        assert {r.sop_class_uid for r in series.instances} == {MRImageStorage}
    assert summary.instance_count == 20
    assert summary.base_url == ANS_BASE
    assert summary.problems == ()


def test_reader_on_the_ans_xdm_kos_from_bytes_and_dataset(reference_dir: Path) -> None:
    path = reference_dir / "kos" / "xdm-KOS_1_1.dcm"
    for source in (path, path.read_bytes(), dcmread(path)):
        summary = read_kos(source)
        assert summary.sop_instance_uid == "1.3.2.751468943.3.1234.99352.240116151112.1.1.1"
        assert summary.study_instance_uid == ANS_XDM_STUDY
        assert len(summary.series) == 1
        only = summary.series[0]
        assert only.series_instance_uid == (
            "1.3.6.1.4.1.5962.99.1.3711725607.829148806.1687338938407.6.12"
        )
        assert only.retrieve_url == (
            f"{ANS_BASE}/studies/{ANS_XDM_STUDY}/series/{only.series_instance_uid}"
        )
        assert len(only.instances) == 10
        assert summary.base_url == ANS_BASE


def test_reader_reports_inconsistent_bases_and_missing_urls(reference_dir: Path) -> None:
    ds = dcmread(reference_dir / "kos" / "ans-example-ko.dcm")
    items = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
    items[1].RetrieveURL = str(items[1].RetrieveURL).replace("localhost:4200", "other:8080")
    summary = read_kos(ds)
    assert summary.base_urls == (ANS_BASE, "http://other:8080/api/source")
    assert any("inconsistent WADO-RS bases" in p for p in summary.problems)
    del items[0].RetrieveURL
    summary = read_kos(ds)
    assert summary.series[0].retrieve_url == ""
    assert any("no Retrieve URL" in p for p in summary.problems)


def test_reader_refuses_what_is_not_a_kos(reference_dir: Path, default_store: Store) -> None:
    with pytest.raises(InputError, match="not a DICOM file") as caught:
        read_kos(reference_dir / "kos" / "Manifest_KOS.xml")
    assert "\n" not in str(caught.value)
    image = catalog.exam_series(default_store, "radio-thorax")[0].instances[0].files[0].path
    with pytest.raises(InputError, match="not a KOS"):
        read_kos(image)
    with pytest.raises(InputError, match="no such file"):
        read_kos(reference_dir / "kos" / "missing.dcm")
    with pytest.raises(InputError, match="not a DICOM file"):
        read_kos(b"hello")
