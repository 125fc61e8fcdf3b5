"""Synthetic exams: French identities, valid IODs (dciodvfy), layout, determinism."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage

from drimlab.datasets.synthetic import (
    DATASET_NAMES,
    ExamSpec,
    dataset_specs,
    exam_spec,
    write_exam,
)
from drimlab.datasets.synthetic_identity import is_valid_ins, nir_key
from drimlab.dciodvfy import run_dciodvfy
from drimlab.domain import INS_ISSUER, INS_NIR_TEST_OID
from drimlab.errors import InputError

GeneratedSet = dict[str, list[Path]]


def test_dataset_names_are_the_documented_ones() -> None:
    assert DATASET_NAMES == ("default", "large")
    for name in DATASET_NAMES:
        specs = dataset_specs(name)
        assert specs
        assert len({s.name for s in specs}) == len(specs)


def test_unknown_dataset_or_exam_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown synthetic dataset 'huge'"):
        dataset_specs("huge")
    with pytest.raises(InputError, match="no exam 'nope' in dataset 'default'"):
        exam_spec("default", "nope")
    assert exam_spec("default", "irm-encephale").modality == "MR"


def test_default_set_covers_the_required_exam_kinds() -> None:
    specs = dataset_specs("default")
    modalities = {s.modality for s in specs}
    assert {"CT", "MR"} <= modalities
    assert modalities & {"CR", "DX"}
    ct = next(s for s in specs if s.modality == "CT")
    assert len(ct.series) >= 2
    assert any(series.frames > 1 for s in specs for series in s.series)
    for spec in specs:
        assert spec.name == spec.name.lower() and " " not in spec.name
        assert spec.description and "\n" not in spec.description


def test_large_spec_is_big_enough_without_generating_it() -> None:
    (large,) = dataset_specs("large")
    assert large.instance_count >= 1000
    assert large.pixel_bytes >= 500 * 1000 * 1000


def test_nir_key_matches_the_ans_samples() -> None:
    # PatientIDs of the public ANS KOS samples.
    assert nir_key("1620188850453") == "27"
    assert is_valid_ins("162018885045327")
    assert is_valid_ins("279035121518989")
    assert not is_valid_ins("279035121518988")
    assert not is_valid_ins("27903512151898")


def test_every_default_instance_passes_dciodvfy(default_set: GeneratedSet) -> None:
    checked = 0
    for paths in default_set.values():
        for path in paths:
            result = run_dciodvfy(path)
            assert result.errors == (), f"{path.name}: {[str(m) for m in result.errors]}"
            assert result.warnings == (), f"{path.name}: {[str(m) for m in result.warnings]}"
            assert result.exit_code == 0
            checked += 1
    assert checked == sum(s.instance_count for s in dataset_specs("default"))


def test_large_recipe_passes_dciodvfy_on_a_reduced_count(tmp_path: Path) -> None:
    (large,) = dataset_specs("large")
    reduced = dataclasses.replace(
        large,
        series=tuple(dataclasses.replace(s, instances=min(s.instances, 2)) for s in large.series),
    )
    paths = write_exam(reduced, tmp_path)
    assert len(paths) == reduced.instance_count
    for path in paths:
        ds = dcmread(path)
        assert (ds.Rows, ds.Columns) == (512, 512)
        result = run_dciodvfy(path)
        assert result.errors == (), [str(m) for m in result.errors]


def test_layout_transfer_syntax_and_progress(
    tmp_path: Path, default_specs: dict[str, ExamSpec]
) -> None:
    spec = default_specs["radio-thorax"]
    seen: list[int] = []
    paths = write_exam(spec, tmp_path, progress=seen.append)
    assert seen == list(range(1, spec.instance_count + 1))
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(paths)
    for path in paths:
        ds = dcmread(path)
        assert path == tmp_path / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_writing_twice_gives_byte_identical_files(
    tmp_path: Path, default_set: GeneratedSet
) -> None:
    for name, first in default_set.items():
        again = write_exam(exam_spec("default", name), tmp_path / name)
        assert [p.relative_to(tmp_path / name) for p in again] == [
            p.relative_to(p.parents[1]) for p in first
        ]
        for a, b in zip(first, again, strict=True):
            assert a.read_bytes() == b.read_bytes(), f"{name}: {a.name} differs"


def test_patients_look_french_and_synthetic(default_set: GeneratedSet) -> None:
    patients = set()
    for name, paths in default_set.items():
        datasets = [dcmread(p) for p in paths]
        first = datasets[0]
        assert first.SpecificCharacterSet == "ISO_IR 100"
        assert is_valid_ins(first.PatientID)
        assert first.IssuerOfPatientID == INS_ISSUER
        qualifiers = first.IssuerOfPatientIDQualifiersSequence[0]
        assert (qualifiers.UniversalEntityID, qualifiers.UniversalEntityIDType) == (
            INS_NIR_TEST_OID,
            "ISO",
        )
        assert first.OtherPatientIDsSequence[0].PatientID == first.PatientID
        family, given = str(first.PatientName).split("^")
        assert family.isupper() and given[0].isupper()
        # The NIR starts with the sex (1 man, 2 woman) and the birth year and month.
        assert first.PatientID[0] == {"M": "1", "F": "2"}[first.PatientSex]
        assert first.PatientID[1:5] == first.PatientBirthDate[2:6]
        assert "fictif" in first.PatientComments
        issuer = first.IssuerOfAccessionNumberSequence[0]
        assert issuer.LocalNamespaceEntityID and issuer.UniversalEntityIDType == "ISO"
        assert first.AccessionNumber and first.StudyID and first.StudyDescription
        assert "Saint-Exupéry" in first.InstitutionName
        assert str(first.ReferringPhysicianName)
        # One patient and one study per exam.
        assert {d.PatientID for d in datasets} == {first.PatientID}
        assert {d.StudyInstanceUID for d in datasets} == {first.StudyInstanceUID}
        assert {d.AccessionNumber for d in datasets} == {first.AccessionNumber}
        assert len({d.SeriesInstanceUID for d in datasets}) == len(
            exam_spec("default", name).series
        )
        patients.add(first.PatientID)
    assert len(patients) == len(default_set)


def test_uids_are_unique_and_valid(default_set: GeneratedSet) -> None:
    sop_uids = [
        dcmread(p, stop_before_pixels=True).SOPInstanceUID
        for ps in default_set.values()
        for p in ps
    ]
    assert len(set(sop_uids)) == len(sop_uids)
    for uid in sop_uids:
        assert uid.is_valid


def test_pixels_are_image_like(default_set: GeneratedSet) -> None:
    for paths in default_set.values():
        for path in paths[:3]:
            ds = dcmread(path)
            pixels = ds.pixel_array
            assert pixels.max() < 1 << ds.BitsStored
            # Not flat, not pure noise: neighbouring pixels are strongly correlated.
            frame = (pixels[0] if pixels.ndim == 3 else pixels).astype(np.float64)
            assert frame.std() > 10
            left, right = frame[:, :-1].ravel(), frame[:, 1:].ravel()
            assert np.corrcoef(left, right)[0, 1] > 0.5


def test_the_multiframe_object_is_an_ultrasound_cine(default_set: GeneratedSet) -> None:
    (path,) = default_set["echo-abdominale"]
    ds = dcmread(path)
    assert ds.SOPClassUID == UltrasoundMultiFrameImageStorage
    assert int(ds.NumberOfFrames) == ds.pixel_array.shape[0] > 1


@given(st.from_regex(r"[12][0-9]{12}", fullmatch=True), st.integers(0, 12), st.integers(1, 9))
def test_the_ins_key_catches_any_single_digit_error(nir13: str, position: int, shift: int) -> None:
    ins = nir13 + nir_key(nir13)
    assert is_valid_ins(ins)
    digits = list(ins)
    digits[position] = str((int(digits[position]) + shift) % 10)
    assert not is_valid_ins("".join(digits))


def test_an_unknown_series_kind_writes_nothing(tmp_path: Path) -> None:
    spec = exam_spec("default", "radio-thorax")
    broken = dataclasses.replace(
        spec, series=(*spec.series, dataclasses.replace(spec.series[0], kind="pet"))
    )
    with pytest.raises(InputError, match="unknown series kind pet"):
        write_exam(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()
