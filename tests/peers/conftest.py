"""Real peers for the tests: one Orthanc per session loaded with a small 2-series study."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from drimlab.datasets.synthetic import ExamSpec, SeriesSpec, write_exam
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.orthanc import OrthancServer

INSTANCES_PER_SERIES = 3


@dataclass(frozen=True)
class LoadedStudy:
    """The study the session's Orthanc holds: UIDs by series, and the files."""

    study_uid: str
    series: dict[str, tuple[str, ...]]  # series UID -> SOP instance UIDs, in load order
    paths: tuple[Path, ...]


def make_study(out_dir: Path) -> LoadedStudy:
    """Write a small 2-series CT exam (3 instances each) with drimlab's synthetic generator."""
    spec = ExamSpec(
        name="peers",
        description="Peer harness exam",
        modality="CT",
        seed=11,
        series=tuple(
            SeriesSpec("ct-axial", f"Thorax {n}", "CHEST", INSTANCES_PER_SERIES, 32, 32)
            for n in (1, 2)
        ),
    )
    paths = write_exam(spec, out_dir)
    series: dict[str, list[str]] = {}
    study = ""
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        study = ds.StudyInstanceUID
        series.setdefault(ds.SeriesInstanceUID, []).append(ds.SOPInstanceUID)
    return LoadedStudy(study, {k: tuple(v) for k, v in series.items()}, tuple(paths))


@pytest.fixture(scope="session")
def orthanc_study(tmp_path_factory: pytest.TempPathFactory) -> LoadedStudy:
    return make_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="session")
def orthanc(orthanc_study: LoadedStudy) -> Iterator[OrthancServer]:
    server = OrthancServer().start()
    try:
        server.load(orthanc_study.paths)
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, for `_peer_logs_on_failure`."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    item.stash.setdefault(_REPORTS, {})[report.when] = report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture(autouse=True)
def _peer_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test fails, print the logs of the peers it used (shown with its failure)."""
    yield
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is None or not call.failed:
        return
    if "orthanc" in request.fixturenames:
        server: OrthancServer = request.getfixturevalue("orthanc")
        print(f"--- Orthanc log (tail) ---\n{server.log_text(4000)}")
    if "proxy" in request.fixturenames:
        front: MtlsProxy = request.getfixturevalue("proxy")
        print(f"--- nginx error log (tail) ---\n{front.error_log_text(4000)}")


# -- throwaway PKI for the mTLS tests ---------------------------------------------------------


@dataclass(frozen=True)
class PeerPki:
    """PEM files of a CA, a server certificate (127.0.0.1/localhost), and two clients."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_dn: str
    stranger_cert: Path  # issued by another CA
    stranger_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "DRIMLAB TEST"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "300000000000001"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, base: Path
) -> tuple[Path, Path]:
    crt, pem = base.with_suffix(".crt"), base.with_suffix(".key")
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return crt, pem


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> PeerPki:
    out = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("DRIMLAB TEST CA")
    ca_cert = _issue(ca_name, ca_key, ca_name, ca_key, ca=True)
    ca_crt, _ = _write(ca_cert, ca_key, out / "ca")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue(_name("localhost"), server_key, ca_name, ca_key, server=True)
    server_crt, server_pem = _write(server, server_key, out / "server")
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue(_name("consumer.test"), client_key, ca_name, ca_key)
    client_crt, client_pem = _write(client, client_key, out / "client")
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_name = _name("OTHER CA")
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _issue(_name("stranger.test"), stranger_key, other_name, other_key)
    stranger_crt, stranger_pem = _write(stranger, stranger_key, out / "stranger")
    return PeerPki(
        ca=ca_crt,
        server_cert=server_crt,
        server_key=server_pem,
        client_cert=client_crt,
        client_key=client_pem,
        client_dn=client.subject.rfc4514_string(),
        stranger_cert=stranger_crt,
        stranger_key=stranger_pem,
    )


@pytest.fixture(scope="session")
def proxy(orthanc: OrthancServer, test_pki: PeerPki) -> Iterator[MtlsProxy]:
    """nginx terminating mutual TLS in front of the session's Orthanc."""
    with MtlsProxy(
        upstream=orthanc.url,
        ca_file=test_pki.ca,
        cert_file=test_pki.server_cert,
        key_file=test_pki.server_key,
    ) as running:
        yield running
