"""Real Orthanc responses, captured byte-exact and validated: every finding is a known deviation.

The request carries the DRIM-M headers (the ANS Accept list, a Bearer token, the KOS
SOP Instance UID). Findings on the request come from the ANS sample's own Accept list;
findings on the response must each be one of Orthanc's documented deviations
(docs/orthanc-deviations.md). Anything else is a bug in the validator or a new deviation to
document.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pydicom
import pytest

from drimlab.datasets.kos_build import build_kos
from drimlab.documents.kos import read_kos
from drimlab.exchange import Exchange
from drimlab.testing.capture import capture_response, client_tls_context
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.orthanc import OrthancServer
from drimlab.validation.engine import validate_exchange
from drimlab.validation.findings import Severity
from drimlab.validation.loaders import load_request, load_response
from drimlab.validation.report import Report, Verdict
from tests.peers.conftest import LoadedStudy, PeerPki

pytestmark = pytest.mark.peer

# What the ANS sample Accept list itself carries (not Orthanc's doing).
ANS_ACCEPT_FINDINGS = {
    "WADO-RQ-013": "a boundary parameter in each Accept media range (`boundary=**`)",
    "WADO-RQ-014": "a trailing comma at the end of the Accept list",
}
# Orthanc 1.10.1 + DICOMweb 1.7 deviations (each documented in docs/orthanc-deviations.md).
ORTHANC_DEVIATIONS = {
    "WADO-RS-008": "study/series body delimited only by closing the connection",
    "WADO-RS-031": "part Content-Type `application/dicom` without transfer-syntax",
    "DRIM-021": "no Strict-Transport-Security header (plain HTTP, not a DRIMBox front)",
    "WADO-RS-036": "the q weights of the Accept list ignored: the last range it can serve wins",
}


def _ans_accept(reference_dir: Path) -> str:
    request = (reference_dir / "wado-rs" / "request-series.txt").read_text()
    line = next(x for x in request.splitlines() if x.lower().startswith("accept:"))
    return line.split(":", 1)[1]


@pytest.fixture(scope="module")
def kos_summary(orthanc: OrthancServer, orthanc_study: LoadedStudy) -> Any:
    images = [pydicom.dcmread(p, stop_before_pixels=True) for p in orthanc_study.paths]
    return read_kos(build_kos(images, orthanc.base_url))


@dataclass(frozen=True)
class DrimRequest:
    """The DRIM-M request headers and the KOS they name."""

    headers: list[tuple[str, str]]
    kos: Any


@pytest.fixture(scope="module")
def drim(reference_dir: Path, kos_summary: Any) -> DrimRequest:
    token = jwt.encode(
        {"sub": "peer-test", "exp": int(time.time()) + 3600},
        "peer-test-signing-key-of-at-least-32-bytes",
        algorithm="HS256",
    )
    headers = [
        ("Accept", _ans_accept(reference_dir)),
        ("Authorization", f"Bearer {token}"),
        ("KOS-SOPInstanceUID", str(kos_summary.sop_instance_uid)),
    ]
    return DrimRequest(headers, kos_summary)


def _capture_and_load(
    url: str, out: Path, headers: list[tuple[str, str]], tls: ssl.SSLContext | None = None
) -> Exchange:
    capture_response(
        url, out / "response.http", headers=headers, request_path=out / "request.http", tls=tls
    )
    return load_response(out / "response.http", load_request(out / "request.http"))


def _rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def _assert_only_known(report: Report) -> None:
    unexplained = [
        f"{f.rule} {f.severity.value} {f.location}: {f.message}"
        for f in report.findings
        if f.rule not in ANS_ACCEPT_FINDINGS and f.rule not in ORTHANC_DEVIATIONS
    ]
    assert not unexplained, "findings not explained by a known deviation:\n" + "\n".join(
        unexplained
    )
    assert report.verdict is Verdict.PASSED


def test_series_retrieve_holds_every_loaded_instance(
    orthanc: OrthancServer,
    orthanc_study: LoadedStudy,
    drim: DrimRequest,
    tmp_path: Path,
) -> None:
    for index, (series_uid, sops) in enumerate(orthanc_study.series.items()):
        out = tmp_path / str(index)
        out.mkdir()
        url = f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
        report = validate_exchange(
            _capture_and_load(url, out, drim.headers), "drim-m", kos=drim.kos
        )
        _assert_only_known(report)
        assert sorted(p.sop_instance_uid or "" for p in report.parts) == sorted(sops)
        assert {p.series_instance_uid for p in report.parts} == {series_uid}
        assert {p.study_instance_uid for p in report.parts} == {orthanc_study.study_uid}
        # The deviations are real: all three show up on a series retrieve.
        assert {"WADO-RS-008", "WADO-RS-031", "DRIM-021"} <= _rules(report)
        missing_ts = [f for f in report.findings if f.rule == "WADO-RS-031"]
        assert len(missing_ts) == len(sops)
        assert {f.location.part for f in missing_ts} == set(range(len(sops)))
        assert all(f.severity is Severity.WARNING for f in missing_ts)


def test_instance_retrieve_is_delimited_by_content_length(
    orthanc: OrthancServer,
    orthanc_study: LoadedStudy,
    drim: DrimRequest,
    tmp_path: Path,
) -> None:
    series_uid, sops = next(iter(orthanc_study.series.items()))
    url = (
        f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
        f"/instances/{sops[1]}"
    )
    report = validate_exchange(_capture_and_load(url, tmp_path, drim.headers), kos=drim.kos)
    _assert_only_known(report)
    assert [p.sop_instance_uid for p in report.parts] == [sops[1]]
    assert "WADO-RS-008" not in _rules(report)
    assert "WADO-RS-031" in _rules(report)


def test_series_through_the_mtls_proxy_arrives_chunked_and_validates(
    proxy: MtlsProxy,
    orthanc_study: LoadedStudy,
    drim: DrimRequest,
    test_pki: PeerPki,
    tmp_path: Path,
) -> None:
    series_uid, sops = list(orthanc_study.series.items())[1]
    url = f"{proxy.url}/dicom-web/studies/{orthanc_study.study_uid}/series/{series_uid}"
    tls = client_tls_context(test_pki.ca, test_pki.client_cert, test_pki.client_key)
    exchange = _capture_and_load(url, tmp_path, drim.headers, tls=tls)
    assert exchange.response_body_encoded  # kept chunked on disk, as it came
    report = validate_exchange(exchange, kos=drim.kos)
    _assert_only_known(report)
    assert sorted(p.sop_instance_uid or "" for p in report.parts) == sorted(sops)
    # nginx re-frames Orthanc's close-delimited body with chunked coding and adds HSTS.
    assert "WADO-RS-008" not in _rules(report)
    assert "DRIM-021" not in _rules(report)


def test_orthanc_answers_without_the_kos_header_and_is_caught(
    orthanc: OrthancServer, orthanc_study: LoadedStudy, drim: DrimRequest, tmp_path: Path
) -> None:
    # Orthanc is not a DRIMBox: it serves a request that has no KOS-SOPInstanceUID, which a
    # DRIMBox source must refuse with 400.
    series_uid = next(iter(orthanc_study.series))
    url = f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
    headers = [h for h in drim.headers if h[0] != "KOS-SOPInstanceUID"]
    report = validate_exchange(_capture_and_load(url, tmp_path, headers), kos=drim.kos)
    assert {"DRIM-005", "DRIM-020"} <= _rules(report)
    assert report.verdict is Verdict.FAILED


def test_implicit_vr_served_on_request_is_caught(
    orthanc: OrthancServer, orthanc_study: LoadedStudy, tmp_path: Path
) -> None:
    # Orthanc transcodes to Implicit VR Little Endian when asked, though PS3.18 forbids it on
    # the web: both the request and the response side must say so.
    series_uid, sops = next(iter(orthanc_study.series.items()))
    url = (
        f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
        f"/instances/{sops[0]}"
    )
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2'
    exchange = _capture_and_load(url, tmp_path, [("Accept", accept)])
    assert exchange.status == 200
    report = validate_exchange(exchange, "dicomweb")
    forbidden = [f for f in report.findings if f.rule == "WADO-RS-034"]
    assert forbidden and forbidden[0].severity is Severity.ERROR
    assert report.verdict is Verdict.FAILED
    assert [p.transfer_syntax_uid for p in report.parts] == ["1.2.840.10008.1.2"]


def test_a_500_for_an_unsupported_transcoding_is_caught(
    orthanc: OrthancServer, orthanc_study: LoadedStudy, tmp_path: Path
) -> None:
    # JPEG 2000 is not available to Orthanc's transcoder: it answers 500 where PS3.18 expects
    # 406 (nothing acceptable) or the instance in an accepted syntax.
    series_uid, sops = next(iter(orthanc_study.series.items()))
    url = (
        f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
        f"/instances/{sops[0]}"
    )
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.91'
    exchange = _capture_and_load(url, tmp_path, [("Accept", accept)])
    assert exchange.status == 500
    report = validate_exchange(exchange, "dicomweb")
    assert "WADO-RS-001" in _rules(report)
    assert report.verdict is Verdict.FAILED
