"""TLS is not optional in DRIM-M: a request target in http:// is an error (DRIM-013; a warning
with --severity DRIM-013=warning); a KOS exported for an http:// base is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange
from drimlab.validation.findings import Severity
from drimlab.validation.loaders import load_request
from drimlab.validation.report import Verdict
from tests.validation.builder import STUDY, request


def _request(tmp_path: Path, target: str) -> Path:
    path = tmp_path / "request.http"
    path.write_bytes(request(target))
    return path


def test_an_http_request_target_is_reported_in_drim_m(tmp_path: Path) -> None:
    plain = _request(tmp_path, f"http://source.example/dicom-web/studies/{STUDY}")
    report = validate_exchange(load_request(plain), "drim-m")
    assert report.verdict is Verdict.FAILED
    assert {f.rule for f in report.findings if f.severity is Severity.ERROR} == {"DRIM-013"}
    lowered = Selection.of("drim-m", severities=["DRIM-013=warning"])
    relaxed = validate_exchange(load_request(plain), lowered)
    assert relaxed.verdict is Verdict.PASSED
    assert {f.rule: f.severity for f in relaxed.findings}["DRIM-013"] is Severity.WARNING
    assert "DRIM-013" not in validate_exchange(load_request(plain), "dicomweb").rules_checked
    tls = _request(tmp_path, f"https://source.example/dicom-web/studies/{STUDY}")
    assert validate_exchange(load_request(tls), "drim-m").verdict is Verdict.PASSED


def test_export_kos_for_an_http_base_warns(
    default_dataset_copy: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = str(default_dataset_copy.home)
    out = tmp_path / "plain.dcm"
    argv = ["--home", home, "dataset", "export-kos", "radio-thorax", str(out)]
    assert run([*argv, "--base-url", "http://drimbox.test:8080/wado"]) == 0
    assert "warning: the KOS's Retrieve URLs are plain http://" in capsys.readouterr().err
    assert run([*argv, "--base-url", "https://drimbox.test:9443/wado"]) == 0
    assert "warning" not in capsys.readouterr().err
