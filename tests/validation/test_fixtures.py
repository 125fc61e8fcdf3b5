"""Each rule fires on its bad fixture, and nothing of severity error fires on its good twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.documents.kos import read_kos
from drimlab.validation.engine import validate_exchange, validate_response
from drimlab.validation.findings import Severity
from drimlab.validation.loaders import load_request, load_response
from drimlab.validation.report import Report
from drimlab.validation.rules import load_all
from tests.validation.build_fixtures import FIXTURES, NEEDS_KOS, build

BAD = sorted(p for p in FIXTURES.glob("*-bad.*") if p.suffix in (".http", ".resp"))
GOOD = sorted(p for p in FIXTURES.glob("*-good.*") if p.suffix in (".http", ".resp"))


def _code(path: Path) -> str:
    return path.name.rsplit("-", 1)[0]


def _validate(path: Path) -> Report:
    code = _code(path)
    kos = read_kos(FIXTURES / "_kos.dcm") if code in NEEDS_KOS else None
    if path.suffix == ".http":
        return validate_exchange(load_request(path), "drim-m", kos=kos)
    sidecar = path.with_suffix(".req")
    request = load_request(sidecar if sidecar.exists() else FIXTURES / "_request.req")
    # The response rules are judged alone: some twins answer a deliberately faulty request.
    return validate_response(load_response(path, request), "drim-m", kos=kos)


def test_there_are_enough_fixtures_and_each_names_a_rule() -> None:
    catalogue = load_all()
    assert len(BAD) >= 40
    assert {_code(p) for p in BAD} == {_code(p) for p in GOOD}
    for path in BAD:
        assert _code(path) in catalogue, path.name


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_rule_fires_on_bad_fixture(path: Path) -> None:
    report = _validate(path)
    assert _code(path) in {f.rule for f in report.findings}, report.as_dict()["findings"]


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_no_error_on_good_twin(path: Path) -> None:
    report = _validate(path)
    errors = [f.as_dict() for f in report.findings if f.severity is Severity.ERROR]
    assert errors == []


def test_fixture_files_match_their_builder() -> None:
    for name, data in build().items():
        assert (FIXTURES / name).read_bytes() == data, (
            f"{name}: run tests.validation.build_fixtures"
        )
