"""Each faulty document, named after the rule it exercises, is caught; its good twin is not."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from drimlab.dciodvfy import checker
from drimlab.validation.documents import validate_cross, validate_kos, validate_xdm, validate_xds
from drimlab.validation.findings import Severity
from drimlab.validation.report import Report, Verdict
from drimlab.validation.rules import CATALOGUE, load_all

from .conftest import FIXTURES

VALIDATORS: dict[str, Callable[[Path], Report]] = {
    "kos": partial(validate_kos, checker=checker()),
    "xds": validate_xds,
    "xdm": partial(validate_xdm, checker=checker()),
}


def _faulty(family: str, suffix: str) -> list[Path]:
    return sorted((FIXTURES / family).glob(f"*-*{suffix}"))


def _code(path: Path) -> str:
    family, number = path.name.split("-")[:2]
    return f"{family}-{number}"


def _check(report: Report, code: str) -> None:
    rule = CATALOGUE[code]
    found = [f for f in report.findings if f.rule == code and f.severity is not Severity.INFO]
    assert found, f"{code} not reported: {[f.rule for f in report.findings]}"
    assert code in report.rules_checked
    if rule.severity is Severity.ERROR:
        assert report.verdict is Verdict.FAILED
    else:
        assert any(f.severity is rule.severity for f in found)


def test_there_are_at_least_25_faulty_documents() -> None:
    count = sum(len(_faulty(f, s)) for f, s in (("kos", ".dcm"), ("xds", ".xml"), ("xdm", ".zip")))
    assert count >= 25


@pytest.mark.parametrize("family", ["kos", "xds", "xdm"])
def test_good_twin_passes_without_findings(family: str) -> None:
    twin = next((FIXTURES / family).glob("good.*"))
    report = VALIDATORS[family](twin)
    assert report.verdict is Verdict.PASSED
    assert [f for f in report.findings if f.severity is not Severity.INFO] == []


@pytest.mark.parametrize(
    "path",
    _faulty("kos", ".dcm") + _faulty("xds", ".xml") + _faulty("xdm", ".zip"),
    ids=lambda p: p.name,
)
def test_faulty_document_is_caught_by_its_rule(path: Path) -> None:
    load_all()
    family = path.parent.name
    code = _code(path)
    assert CATALOGUE[code].name in path.stem
    _check(VALIDATORS[family](path), code)
    twin = next(path.parent.glob("good.*"))
    twin_findings = VALIDATORS[family](twin).findings
    assert not [f for f in twin_findings if f.rule == code and f.severity is not Severity.INFO]


def _cross_inputs(path: Path, images: list[Path]) -> dict[str, object]:
    inputs: dict[str, object] = {
        "xds": FIXTURES / "xds" / "good.xml",
        "cda": FIXTURES / "cda" / "good.xml",
        "images": list(images),
    }
    role = path.suffixes[-2].lstrip(".")
    if role in ("xds", "cda"):
        inputs[role] = path
    elif role == "image":
        from drimlab.documents.cross import read_image

        uid = read_image(path.read_bytes(), path.name).sop_instance_uid
        inputs["images"] = [p for p in images if uid not in p.name] + [path]
    else:
        inputs["images"] = [*images, path]
    return inputs


def test_cross_good_set_passes_every_cross_rule(good_images: list[Path]) -> None:
    report = validate_cross(
        FIXTURES / "kos" / "good.dcm",
        xds=FIXTURES / "xds" / "good.xml",
        cda=FIXTURES / "cda" / "good.xml",
        images=good_images,
    )
    assert report.verdict is Verdict.PASSED
    assert report.findings == ()
    assert {r.code for r in CATALOGUE.matching("XVAL")} == set(report.rules_checked)


@pytest.mark.parametrize("path", sorted((FIXTURES / "cross").glob("XVAL-*")), ids=lambda p: p.name)
def test_cross_fault_names_both_places(path: Path, good_images: list[Path]) -> None:
    inputs = _cross_inputs(path, good_images)
    report = validate_cross(FIXTURES / "kos" / "good.dcm", **inputs)  # type: ignore[arg-type]
    code = _code(path)
    _check(report, code)
    for finding in report.findings:
        assert "kos" in (finding.location.path or "").lower() or "good.dcm" in str(finding.location)
        assert path.name in str(finding.location) or code in ("XVAL-007",)


def test_xds_message_inside_an_mtom_package_is_read(tmp_path: Path) -> None:
    envelope = (FIXTURES / "xds" / "good.xml").read_bytes()
    package = (
        b"--MIMEBoundary_1\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        b"Content-ID: <0.root@example>\r\n\r\n" + envelope + b"\r\n--MIMEBoundary_1\r\n"
        b"Content-Type: application/dicom\r\nContent-ID: <kos>\r\n\r\nDICM...\r\n"
        b"--MIMEBoundary_1--\r\n"
    )
    path = tmp_path / "pnr.mime"
    path.write_bytes(package)
    report = validate_xds(path)
    assert report.verdict is Verdict.PASSED
    assert "XDS-012" in report.rules_checked
