"""DRIM-M_SO_REPONSE_WADO with a real source: Orthanc's DICOMweb plugin behind an nginx
mutual-TLS front presenting the bench's source certificate, both started by the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.cli import run
from drimlab.datasets.catalog import exam_series, list_exams
from drimlab.datasets.kos_build import build_kos, write_kos
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.scenarios.runs import RunStatus, StepStatus, list_runs
from drimlab.scenarios.signing import Signer
from drimlab.simulators.environment import SOURCE_CERT
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.orthanc import OrthancServer
from tests.scenarios.conftest import Bench

pytestmark = [pytest.mark.peer, pytest.mark.slow]


@pytest.fixture(scope="module")
def orthanc_source(
    bench: Bench, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OrthancServer, Path]]:
    """Orthanc holding the first default exam, its mTLS front, and a KOS pointing at it."""
    exam = list_exams(bench.store)[0]
    files = [
        found.path
        for series in exam_series(bench.store, exam.name)
        for instance in series.instances
        if (found := instance.file(ExplicitVRLittleEndian)) is not None
    ]
    pki = bench.env.pki
    with (
        OrthancServer() as orthanc,
        MtlsProxy(
            upstream=orthanc.url,
            ca_file=pki.bundle_path,
            cert_file=pki.chain_path(SOURCE_CERT),
            key_file=pki.key_path(SOURCE_CERT),
        ) as front,
    ):
        orthanc.load(files)
        # The bench whitelist names the source by its certificate's host, localhost.
        base_url = f"https://localhost:{front.port}/dicom-web"
        heads = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
        kos = tmp_path_factory.mktemp("orthanc-kos") / "kos.dcm"
        write_kos(build_kos(heads, base_url), kos)
        yield orthanc, kos


def test_so_reponse_wado_against_orthanc(
    bench_cli: Bench, orthanc_source: tuple[OrthancServer, Path], tmp_path: Path, capsys
) -> None:
    orthanc, kos = orthanc_source
    status = run(
        [
            "scenario",
            "run",
            "DRIM-M_SO_REPONSE_WADO",
            "--auto",
            "-i",
            f"kos_file={kos}",
            "-e",
            f"source-log={orthanc.log_path}",
        ]
    )
    out = capsys.readouterr()
    assert status == 0, out.out + out.err
    done = next(r for r in list_runs(bench_cli.store) if r.scenario_id == "DRIM-M_SO_REPONSE_WADO")
    assert done.status is RunStatus.DONE
    assert [s.status for s in done.steps] == [StepStatus.DONE] * 4
    retrieve = done.steps[2]
    assert {o["status"] for o in retrieve.facts["observations"]} == {200}
    assert {o["verdict"] for o in retrieve.facts["observations"]} == {"PASSED"}
    # Orthanc's own signature: parts without a transfer-syntax parameter (a warning).
    from drimlab.store.records import load_report

    rules = {f.rule for r in retrieve.report_ids for f in load_report(bench_cli.store, r).findings}
    assert "WADO-RS-031" in rules
    target = tmp_path / "orthanc.zip"
    export_bundle(bench_cli.store, done.id, target, Signer.from_pki(bench_cli.env.pki))
    result = verify_bundle(target, bench_cli.env.pki.anchors())
    assert result.verdict is MonitorVerdict.VERIFIED, (result.failures, result.missing)
    assert result.manifest is not None
    assert result.manifest["exam"]["kos_file"].startswith("kos/")
