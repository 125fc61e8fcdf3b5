"""Random and mutated input never crashes a document validator: InputError or a Report."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from drimlab.documents.kos import read_kos
from drimlab.documents.xdm import read_xdm
from drimlab.documents.xds import parse_submission
from drimlab.errors import InputError
from drimlab.validation.documents import (
    cross_subject,
    validate_archive,
    validate_cross_subject,
    validate_kos_document,
    validate_submission,
)
from drimlab.validation.report import Report

from .conftest import FIXTURES

GOOD_XML = (FIXTURES / "xds" / "good.xml").read_bytes()
GOOD_KOS = (FIXTURES / "kos" / "good.dcm").read_bytes()
GOOD_ZIP = (FIXTURES / "xdm" / "good.zip").read_bytes()
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8)


def _xml(data: bytes) -> None:
    try:
        submission = parse_submission(data, "fuzz.xml")
    except InputError:
        return
    assert isinstance(validate_submission(submission), Report)


@QUICK
@given(st.binary(max_size=2000))
def test_random_bytes_as_xds(data: bytes) -> None:
    _xml(data)


@QUICK
@given(EDITS)
def test_mutated_xds_message(edits: list[tuple[int, int]]) -> None:
    _xml(_mutate(GOOD_XML, edits))


@QUICK
@given(
    st.lists(st.sampled_from(["cla05", "ei04", "DocumentKOS", "HasMember", "Value"]), max_size=4)
)
def test_xds_with_renamed_tokens(tokens: list[str]) -> None:
    data = GOOD_XML
    for token in tokens:
        data = data.replace(token.encode(), b"x" + token.encode()[1:])
    _xml(data)


def _kos(data: bytes) -> None:
    try:
        kos = read_kos(data, label="fuzz.dcm", strict=False)
    except InputError:
        return
    assert isinstance(validate_kos_document(kos), Report)


@QUICK
@given(EDITS)
def test_mutated_kos(edits: list[tuple[int, int]]) -> None:
    _kos(_mutate(GOOD_KOS, [(132 + p % (len(GOOD_KOS) - 132), v) for p, v in edits]))


@QUICK
@given(st.binary(max_size=600))
def test_random_bytes_as_kos(data: bytes) -> None:
    _kos(b"\0" * 128 + b"DICM" + data)


@settings(max_examples=25, deadline=None)
@given(edits=EDITS)
@example(edits=[(3416, 0)])  # a member whose name becomes empty: not a folder, not a file
def test_mutated_xdm_archive(edits: list[tuple[int, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.zip"
        path.write_bytes(_mutate(GOOD_ZIP, edits))
        try:
            archive = read_xdm(path)
        except InputError:
            return
        try:
            assert isinstance(validate_archive(archive), Report)
        finally:
            archive.close()


def test_zip_of_unrelated_files_is_a_failed_report(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as plain:
        plain.writestr("hello.txt", "hi")
    path = tmp_path / "plain.zip"
    path.write_bytes(buffer.getvalue())
    archive = read_xdm(path)
    try:
        report = validate_archive(archive)
    finally:
        archive.close()
    assert {f.rule for f in report.findings} == {"XDM-001", "XDM-002", "XDM-003"}


GOOD_CDA = (FIXTURES / "cda" / "good.xml").read_bytes()


@QUICK
@given(EDITS)
def test_mutated_cda_in_cross_validation(edits: list[tuple[int, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cda.xml"
        path.write_bytes(_mutate(GOOD_CDA, edits))
        try:
            subject = cross_subject(FIXTURES / "kos" / "good.dcm", cda=path)
        except InputError:
            return
        assert isinstance(validate_cross_subject(subject), Report)
