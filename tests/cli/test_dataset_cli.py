"""`drimlab dataset ...` in-process: list, show, export-kos, read-kos, import, bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.documents.kos import read_kos


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> object:
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def _fails_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("drimlab: error: ")
    assert "\n" not in err
    assert "Traceback" not in err
    return err


def test_list_json_and_text(
    default_dataset_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(default_dataset_copy.home)
    exams = _json(capsys, ["--home", home, "dataset", "list", "--json"])
    assert isinstance(exams, list)
    by_name = {e["name"]: e for e in exams}
    assert set(by_name) == {"ct-thorax-abdo", "irm-encephale", "radio-thorax", "echo-abdominale"}
    ct = by_name["ct-thorax-abdo"]
    assert ct["issuer_of_patient_id"] == "ASIP-SANTE-INS-NIR"
    assert ct["series_count"] == 3
    assert ct["instance_count"] == 49
    assert len(ct["transfer_syntaxes"]) == 4
    assert ct["kos_sop_instance_uid"] == ct["manifests"][0]["sop_instance_uid"]

    assert run(["--home", home, "dataset", "list"]) == 0
    out = capsys.readouterr().out
    for exam in exams:
        assert exam["name"] in out
        assert exam["kos_sop_instance_uid"] in out
        assert exam["study_instance_uid"] in out
        assert exam["patient_id"] in out


def test_show_by_name_and_by_study_uid(
    default_dataset_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(default_dataset_copy.home)
    shown = _json(capsys, ["--home", home, "dataset", "show", "irm-encephale", "--json"])
    assert isinstance(shown, dict)
    assert [s["instance_count"] for s in shown["series"]] == [16, 16]
    assert {s["modality"] for s in shown["series"]} == {"MR"}
    same = _json(capsys, ["--home", home, "dataset", "show", shown["study_instance_uid"], "--json"])
    assert same == shown

    assert run(["--home", home, "dataset", "show", "irm-encephale"]) == 0
    out = capsys.readouterr().out
    for series in shown["series"]:
        assert series["series_instance_uid"] in out
    assert shown["kos_sop_instance_uid"] in out
    assert default_dataset_copy.wado_base_url in out


def test_export_kos_as_stored_and_for_another_base(
    default_dataset_copy: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = str(default_dataset_copy.home)
    shown = _json(capsys, ["--home", home, "dataset", "show", "radio-thorax", "--json"])
    assert isinstance(shown, dict)

    stored = tmp_path / "stored.dcm"
    assert run(["--home", home, "dataset", "export-kos", "radio-thorax", str(stored)]) == 0
    capsys.readouterr()
    assert stored.read_bytes() == Path(shown["manifests"][0]["path"]).read_bytes()

    base = "https://drimbox.test:9443/wado"
    other = tmp_path / "other.dcm"
    argv = ["--home", home, "dataset", "export-kos", "radio-thorax", str(other), "--base-url", base]
    assert run(argv) == 0
    assert str(other) in capsys.readouterr().out
    summary = read_kos(other)
    assert summary.base_url == base
    assert summary.study_instance_uid == shown["study_instance_uid"]
    assert summary.sop_instance_uid != shown["kos_sop_instance_uid"]

    after = _json(capsys, ["--home", home, "dataset", "show", "radio-thorax", "--json"])
    assert isinstance(after, dict)
    assert [k["sop_instance_uid"] for k in after["manifests"]] == [
        shown["kos_sop_instance_uid"],
        summary.sop_instance_uid,
    ]
    assert after["kos_sop_instance_uid"] == shown["kos_sop_instance_uid"]


def test_generate_reports_present_exams(
    default_dataset_copy: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(default_dataset_copy.home)
    assert run(["--home", home, "dataset", "generate", "--set", "default"]) == 0
    assert "already present" in capsys.readouterr().out


def test_read_kos_of_an_ans_sample(
    reference_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = reference_dir / "kos" / "ans-example-ko.dcm"
    summary = _json(capsys, ["--home", str(tmp_path), "dataset", "read-kos", str(path), "--json"])
    assert isinstance(summary, dict)
    assert summary["base_url"] == "http://localhost:4200/api/source"
    assert len(summary["series"]) == 2
    assert run(["--home", str(tmp_path), "dataset", "read-kos", str(path)]) == 0
    assert "1.3.2.751468943.3.1234.56838.231114144457.1.1.1" in capsys.readouterr().out


def test_import_lists_skipped_files(
    default_dataset: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in"
    exam_dir = default_dataset.datasets_dir / "radio-thorax" / "1.2.840.10008.1.2.1"
    shutil.copytree(exam_dir, source / "images")
    (source / "notes.txt").write_text("not DICOM", encoding="utf-8")
    home = str(tmp_path / "home")
    assert run(["--home", home, "dataset", "import", str(source), "--name", "thorax"]) == 0
    out = capsys.readouterr().out
    assert "imported thorax" in out
    assert "notes.txt: not a DICOM file" in out
    err = _fails_with_one_line(capsys, ["--home", home, "dataset", "import", str(source)])
    assert "already in the catalogue" in err


def test_bad_inputs_exit_2_with_one_line(
    default_dataset_copy: Settings,
    reference_dir: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    home = str(default_dataset_copy.home)
    err = _fails_with_one_line(capsys, ["--home", home, "dataset", "show", "no-such-exam"])
    assert "no-such-exam" in err
    err = _fails_with_one_line(
        capsys, ["--home", home, "dataset", "import", str(tmp_path / "missing")]
    )
    assert "no such directory" in err
    xml = reference_dir / "kos" / "Manifest_KOS.xml"
    err = _fails_with_one_line(capsys, ["--home", home, "dataset", "read-kos", str(xml)])
    assert "not a DICOM file" in err
    text = tmp_path / "kos.dcm"
    text.write_text("KOS\n", encoding="utf-8")
    _fails_with_one_line(capsys, ["--home", home, "dataset", "read-kos", str(text)])
    err = _fails_with_one_line(
        capsys,
        ["--home", home, "dataset", "export-kos", "radio-thorax", str(tmp_path / "no" / "k.dcm")],
    )
    assert "does not exist" in err
    err = _fails_with_one_line(
        capsys,
        [
            "--home",
            home,
            "dataset",
            "export-kos",
            "radio-thorax",
            str(tmp_path / "k.dcm"),
            "--base-url",
            "ftp://nope",
        ],
    )
    assert "base URL" in err
    err = _fails_with_one_line(capsys, ["--home", home, "dataset", "generate", "--set", "huge"])
    assert "unknown dataset" in err


def test_a_fresh_home_lists_the_built_in_exams(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from drimlab.datasets import catalog
    from drimlab.datasets.synthetic import dataset_specs

    # One small exam of the default set keeps this first-run test quick.
    small = tuple(s for s in dataset_specs("default") if s.name == "radio-thorax")
    monkeypatch.setattr(catalog, "dataset_specs", lambda name: small)
    exams = _json(capsys, ["--home", str(tmp_path / "fresh"), "dataset", "list", "--json"])
    assert isinstance(exams, list)
    assert [(e["name"], e["dataset"]) for e in exams] == [("radio-thorax", "default")]
    assert exams[0]["kos_sop_instance_uid"]


def test_export_xdm_and_pnr_pass_their_validators(
    default_dataset_copy: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, pnr = tmp_path / "export.zip", tmp_path / "pnr.xml"
    assert run(["dataset", "export-xdm", "radio-thorax", str(archive)]) == 0
    assert "2 images" in capsys.readouterr().out
    assert run(["dataset", "export-pnr", "radio-thorax", str(pnr)]) == 0
    capsys.readouterr()
    assert run(["validate", "xdm", str(archive), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "PASSED"
    assert run(["validate", "xds", str(pnr), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "PASSED"
    assert run(["dataset", "export-xdm", "radio-thorax", str(tmp_path / "no" / "x.zip")]) == 2
    assert "does not exist" in capsys.readouterr().err
