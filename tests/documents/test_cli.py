"""`drimlab validate kos|xds|cross|xdm`: exit statuses, formats, output files, stored reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drimlab import cli
from drimlab.config import Settings
from drimlab.store import open_store
from drimlab.store.queries import list_reports

from .conftest import FIXTURES

GOOD = {
    "kos": FIXTURES / "kos" / "good.dcm",
    "xds": FIXTURES / "xds" / "good.xml",
    "xdm": FIXTURES / "xdm" / "good.zip",
}


@pytest.mark.parametrize("command", ["kos", "xds", "xdm"])
def test_good_document_exits_0_and_report_is_stored(
    command: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(["validate", command, str(GOOD[command])]) == 0
    assert "PASSED" in capsys.readouterr().out
    store = open_store(settings)
    try:
        kinds = [r.kind for r in list_reports(store)]
    finally:
        store.close()
    assert kinds == [command]


def test_faulty_kos_exits_1_with_json_findings(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "kos" / "KOS-004-kos-modality-not-ko.dcm"
    assert cli.run(["validate", "kos", str(path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "FAILED"
    assert "KOS-004" in {f["rule"] for f in report["findings"]}


def test_ignore_turns_a_failure_into_a_pass(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FIXTURES / "xds" / "XDS-005-xds-class-code-wrong.xml"
    assert cli.run(["validate", "xds", str(path), "--ignore", "XDS-005"]) == 0
    capsys.readouterr()


def test_select_one_rule_and_write_junit(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "report.xml"
    argv = [
        "validate",
        "xdm",
        str(GOOD["xdm"]),
        "--select",
        "XDM",
        "-f",
        "junit",
        "-o",
        str(target),
    ]
    assert cli.run(argv) == 0
    assert "<testsuite" in target.read_text(encoding="utf-8")
    assert str(target) in capsys.readouterr().out


def test_dicomweb_profile_checks_no_document_rule(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(["validate", "kos", str(GOOD["kos"]), "-p", "dicomweb", "-f", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "UNDEFINED"
    assert report["rules_checked"] == []


def test_cross_with_every_document(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["validate", "cross", "--kos", str(GOOD["kos"]), "--xds", str(GOOD["xds"])]
    argv += ["--cda", str(FIXTURES / "cda" / "good.xml")]
    for image in sorted((FIXTURES / "cross" / "images").glob("*.dcm")):
        argv += ["--image", str(image)]
    assert cli.run([*argv, "-f", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["rules_checked"]) == 8


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["validate", "kos", "missing.dcm"], "no such file"),
        (["validate", "kos", str(FIXTURES / "xds" / "good.xml")], "not a DICOM file"),
        (["validate", "xds", str(FIXTURES / "kos" / "good.dcm")], "not well-formed XML"),
        (["validate", "xds", str(FIXTURES / "cda" / "good.xml")], "no SubmitObjectsRequest"),
        (["validate", "xdm", str(FIXTURES / "kos" / "good.dcm")], "not a ZIP archive"),
        (
            [
                "validate",
                "cross",
                "--kos",
                str(FIXTURES / "kos" / "good.dcm"),
                "--cda",
                str(FIXTURES / "xds" / "good.xml"),
            ],
            "not an HL7 CDA",
        ),
        (["validate", "cross", "--kos", str(FIXTURES / "xds" / "good.xml")], "not a DICOM file"),
        (["validate", "kos", str(GOOD["kos"]), "--select", "NOPE-1"], "no rule code"),
        (["validate", "kos", str(GOOD["kos"]), "-p", "strict"], "unknown profile"),
        (["validate", "kos", str(GOOD["kos"]), "-f", "pdf"], "unknown format"),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    argv: list[str], reason: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("drimlab: error: ")
    assert reason in err
    assert err.count("\n") == 1
