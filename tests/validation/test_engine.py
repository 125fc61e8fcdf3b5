"""The engine: push validation, part records, part sink, profiles, select/ignore, dciodvfy."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from drimlab.dciodvfy import Dciodvfy
from drimlab.dicomweb.multipart import Event, PartData, PartEnd, PartStart
from drimlab.exchange import Exchange
from drimlab.validation.engine import ResponseValidator, validate_exchange, validate_response
from drimlab.validation.findings import Severity
from drimlab.validation.loaders import load_request
from drimlab.validation.profiles import DRIM_M, get_profile, resolve
from drimlab.validation.report import Verdict
from drimlab.validation.rules import UnknownRuleError
from tests.validation.builder import (
    INSTANCES,
    MULTIPART,
    SERIES,
    STUDY,
    default_body,
    instance,
    part10,
    request,
)

HEADERS = [("Content-Type", MULTIPART), ("Strict-Transport-Security", "max-age=1")]


def _request(tmp_path: Path) -> Exchange:
    path = tmp_path / "req.http"
    path.write_bytes(request())
    return load_request(path)


def test_streaming_in_small_chunks_gives_the_same_report_and_parts(tmp_path: Path) -> None:
    body = default_body()
    reports = []
    for size in (1, 7, 4096):
        validator = ResponseValidator(_request(tmp_path), "drim-m")
        validator.feed_headers(200, HEADERS)
        for start in range(0, len(body), size):
            validator.feed(body[start : start + size])
        reports.append(validator.close())
    first = reports[0]
    assert first.verdict is Verdict.PASSED, [f.as_dict() for f in first.findings]
    assert [(p.sha256, p.size) for p in first.parts] == [
        (hashlib.sha256(part10(instance(u))).hexdigest(), len(part10(instance(u))))
        for u in INSTANCES
    ]
    assert first.parts[0].study_instance_uid == STUDY
    assert first.parts[1].series_instance_uid == SERIES
    assert first.parts[0].transfer_syntax_uid == "1.2.840.10008.1.2.1"
    for other in reports[1:]:
        assert other.findings == first.findings and other.parts == first.parts


def test_part_sink_receives_every_byte(tmp_path: Path) -> None:
    events: list[Event] = []
    validator = ResponseValidator(None, "dicomweb", part_sink=events.append)
    validator.feed_headers(200, HEADERS)
    validator.feed(default_body())
    report = validator.close()
    starts = [e for e in events if isinstance(e, PartStart)]
    ends = [e for e in events if isinstance(e, PartEnd)]
    data = b"".join(e.data for e in events if isinstance(e, PartData) and e.index == 0)
    assert len(starts) == len(ends) == 2
    assert hashlib.sha256(data).hexdigest() == report.parts[0].sha256


def test_single_part_application_dicom(tmp_path: Path) -> None:
    data = part10(instance(INSTANCES[0]))
    exchange = Exchange(
        status=200,
        response_headers=(("Content-Type", "application/dicom"),),
        response_body=data,
    )
    report = validate_response(exchange, "dicomweb")
    assert len(report.parts) == 1 and report.parts[0].sop_instance_uid == INSTANCES[0]


def test_select_ignore_and_unknown_codes() -> None:
    assert [r.code for r in resolve("drim-m", select=["WADO-RQ-001,WADO-RQ-002"])] == [
        "WADO-RQ-001",
        "WADO-RQ-002",
    ]
    codes = {r.code for r in resolve("drim-m", ignore=["DRIM", "WADO-RS"])}
    assert codes and not any(c.startswith(("DRIM", "WADO-RS")) for c in codes)
    with pytest.raises(UnknownRuleError):
        resolve("drim-m", select=["NOPE-001"])
    with pytest.raises(UnknownRuleError):
        resolve("drim-m", ignore=["WADO-RQ-999"])
    assert get_profile("drim-m") is DRIM_M
    assert DRIM_M.includes("KOS-001") and not DRIM_M.includes("KOSX-001")


def test_nothing_checkable_is_undefined(tmp_path: Path) -> None:
    assert validate_exchange(Exchange()).verdict is Verdict.UNDEFINED
    report = validate_exchange(_request(tmp_path), select=["WADO-RS"])
    assert report.verdict is Verdict.UNDEFINED and report.rules_checked == ()


def test_raw_chunked_body_is_decoded_while_streaming() -> None:
    body = default_body()
    wire = b"".join(
        f"{len(body[i : i + 50]):x}\r\n".encode() + body[i : i + 50] + b"\r\n"
        for i in range(0, len(body), 50)
    )
    exchange = Exchange(
        status=200,
        response_headers=(*HEADERS, ("Transfer-Encoding", "chunked")),
        response_body=wire,
        response_body_encoded=True,
    )
    report = validate_response(exchange, "dicomweb")
    assert "WADO-RS-010" in {f.rule for f in report.findings}  # no last chunk
    assert len(report.parts) == 2 and "WADO-RS-021" not in {f.rule for f in report.findings}


def test_kos_header_checks_use_the_kos(tmp_path: Path) -> None:
    from drimlab.documents.kos import read_kos
    from tests.validation.build_fixtures import FIXTURES

    kos = read_kos(FIXTURES / "_kos.dcm")
    report = validate_exchange(_request(tmp_path), kos=kos)
    assert {"DRIM-007", "DRIM-008", "DRIM-009", "DRIM-012"} <= set(report.rules_checked)
    assert report.verdict is Verdict.PASSED


@pytest.mark.peer
@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed")
def test_dciodvfy_findings_per_part(tmp_path: Path) -> None:
    exchange = Exchange(
        status=200,
        response_headers=tuple(HEADERS),
        response_body=default_body(),
    )
    plain = validate_response(exchange, "dicomweb")
    assert "DICOM-007" not in plain.rules_checked
    checked = validate_response(exchange, "dicomweb", checker=Dciodvfy())
    assert "DICOM-007" in checked.rules_checked
    # Our fixture CT has no pixel module: the real checker must say so, per part.
    errors = [f for f in checked.findings if f.rule == "DICOM-007"]
    assert errors and {f.location.part for f in errors} == {0, 1}
    assert all(f.severity is Severity.ERROR for f in errors)
