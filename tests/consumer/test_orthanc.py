"""The client simulator against a real WADO-RS source: Orthanc with its DICOMweb plugin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.datasets.catalog import exam_series
from drimlab.datasets.kos_build import build_kos, write_kos
from drimlab.simulators.consumer import RetrieveOptions, retrieve, run_probes
from drimlab.testing.orthanc import OrthancServer
from drimlab.validation.findings import Severity
from drimlab.validation.report import Verdict

from .conftest import Bench, kept_files

pytestmark = pytest.mark.peer

# Orthanc's documented deviations on a normal retrieve (docs/orthanc-deviations.md), plus the
# plain-HTTP warning of a source reached without TLS. WADO-RS-036: it ignores the q weights of
# the DRIM-M list (Explicit VR LE, q=0.4, although it can send JPEG Lossless, q=0.9).
KNOWN_WARNINGS = {"WADO-RS-031", "WADO-RS-008", "DRIM-021", "TLS-013", "WADO-RS-036"}
# Probes Orthanc fails, and why (docs/probes.md, "Orthanc"): no DRIM-M checks (KOS header,
# token), 404 for a malformed UID, 500 / 200 for transfer syntaxes it should refuse with 406.
ORTHANC_PROBE_ERRORS = {
    "PROBE-014",
    "PROBE-021",
    "PROBE-022",
    "PROBE-030",
    "PROBE-031",
    "PROBE-032",
    "PROBE-033",
    "PROBE-034",
    "PROBE-067",  # 500 when asked baseline JPEG alone for 16-bit images (406 expected)
}
# TLS-013: the battery judges its own connection too, and Orthanc is reached in plain HTTP;
# PROBE-065: it ignores the q weights of an Accept list (the last range it can serve wins).
ORTHANC_PROBE_WARNINGS = {"PROBE-015", "TLS-013", "PROBE-065"}
NOT_APPLICABLE_OVER_HTTP = {"PROBE-040", "PROBE-041", "PROBE-042", "PROBE-043", "PROBE-044"}


@dataclass(frozen=True)
class LoadedOrthanc:
    server: OrthancServer
    kos_path: Path
    files: dict[str, Path]  # SOP Instance UID -> the file loaded


@pytest.fixture(scope="module")
def orthanc(bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedOrthanc]:
    files = {
        i.sop_instance_uid: i.file(ExplicitVRLittleEndian).path  # type: ignore[union-attr]
        for s in exam_series(bench.store, bench.exam.name)
        for i in s.instances
    }
    with OrthancServer() as server:
        server.load(files.values())
        headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files.values()]
        kos_path = tmp_path_factory.mktemp("orthanc-kos") / "kos.dcm"
        write_kos(build_kos(headers, server.base_url), kos_path)
        yield LoadedOrthanc(server, kos_path, files)


def test_every_instance_retrieved_identical_to_what_was_loaded(
    bench: Bench, orthanc: LoadedOrthanc, tmp_path: Path
) -> None:
    options = RetrieveOptions(
        kos_path=orthanc.kos_path, insecure_http=True, keep_dir=tmp_path / "parts"
    )
    result = retrieve(bench.store, bench.settings, options)
    assert result.verdict is Verdict.PASSED
    findings = [f for r in result.records for f in r.report.findings]
    assert {f.rule for f in findings} <= KNOWN_WARNINGS
    assert all(f.severity is not Severity.ERROR for f in findings)
    kept = kept_files(tmp_path / "parts")
    assert sorted(p.stem for p in kept) == sorted(orthanc.files)
    for path in kept:
        received = pydicom.dcmread(path)
        loaded = pydicom.dcmread(orthanc.files[path.stem])
        assert received.SOPInstanceUID == loaded.SOPInstanceUID
        assert np.array_equal(received.pixel_array, loaded.pixel_array)


def test_probe_battery_against_orthanc_fails_where_documented(
    bench: Bench, orthanc: LoadedOrthanc
) -> None:
    options = RetrieveOptions(kos_path=orthanc.kos_path, insecure_http=True)
    _, report = run_probes(bench.store, bench.settings, options, burst=4, concurrency=2)
    assert report.verdict is Verdict.FAILED
    errors = {f.rule for f in report.findings if f.severity is Severity.ERROR}
    warnings = {f.rule for f in report.findings if f.severity is Severity.WARNING}
    assert errors == ORTHANC_PROBE_ERRORS
    assert warnings == ORTHANC_PROBE_WARNINGS
    not_applicable = {e["rule"] for e in report.facts["probes"] if e["result"] == "not applicable"}
    assert not_applicable == NOT_APPLICABLE_OVER_HTTP
    assert report.facts["burst"]["ok"] == 4
    assert "PROBE-050" in report.rules_checked


def test_orthancs_probe_report_shows_it_ignores_q(bench: Bench, orthanc: LoadedOrthanc) -> None:
    options = RetrieveOptions(kos_path=orthanc.kos_path, insecure_http=True)
    _, report = run_probes(bench.store, bench.settings, options, burst=0)
    found = {f.message.split(":")[0]: f for f in report.findings if f.rule == "PROBE-065"}
    assert set(found) == {"lossless-first Accept list", "lossy-first Accept list"}
    ignored = found["lossless-first Accept list"]
    assert ignored.severity is Severity.WARNING and "ignores q" in ignored.message
    assert ignored.actual == "1.2.840.10008.1.2.1 (q=0.4)"  # the last range it could serve
    assert ignored.expected == "1.2.840.10008.1.2.4.70 (q=0.9)"  # sent when asked alone
    rows = {row["rule"]: row for row in report.facts["probes"]}
    assert rows["PROBE-066"]["result"] == "passed"  # JPEG Lossless alone: served
    for level in ("PROBE-060", "PROBE-061", "PROBE-062", "PROBE-063", "PROBE-064"):
        assert rows[level]["result"] == "passed", rows[level]
