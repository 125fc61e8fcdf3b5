"""The server simulator over mutual TLS: real clients, the bench PKI, whitelist and CRL."""

from __future__ import annotations

import json
import ssl
import subprocess
import warnings
from collections.abc import Iterator

import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.simulators.serve import SourceOptions, notice, source_in_thread
from drimlab.store import open_store

from .test_source import retrieve_everything


@pytest.fixture
def mtls_source(default_dataset_copy: Settings) -> Iterator:
    store = open_store(default_dataset_copy)
    env = BenchEnvironment.prepare(store, default_dataset_copy)
    with source_in_thread(store, env, SourceOptions(port=0, crl_port=None)) as (setup, server):
        yield env, setup, server
    store.close()


def _session(env: BenchEnvironment, name: str = CONSUMER_CERT) -> requests.Session:
    """A requests session presenting a bench certificate (close it: `with _session(...) as s`)."""
    session = requests.Session()
    session.trust_env = False  # the environment must not override our trust settings
    session.verify = str(env.pki.bundle_path)
    session.cert = (str(env.pki.chain_path(name)), str(env.pki.key_path(name)))
    return session


def test_dicomweb_client_over_mtls_gets_the_catalogue(mtls_source) -> None:
    env, setup, server = mtls_source
    with _session(env) as session:

        def make_client(exam) -> DICOMwebClient:
            headers = {
                "Authorization": f"Bearer {env.issuer.issue()}",
                "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
            }
            return DICOMwebClient(
                f"https://localhost:{server.port}/dicom-web", session=session, headers=headers
            )

        count = retrieve_everything(setup.index, make_client)
    assert count == len(setup.index.snapshot.instances)
    assert setup.recorder.wait_for(1, timeout=60)
    recorded = setup.recorder.recorded[0]
    assert recorded.report.verdict.value == "PASSED"
    assert "WL-020" in recorded.report.rules_checked
    assert "TLS-013" not in {f.rule for f in recorded.report.findings}
    assert recorded.report.facts.get("kind") != "handshake"


def test_multi_valued_rdn_certificate_is_not_the_listed_dn(mtls_source) -> None:
    """OU and CN in one RDN is another name than the listed OU, CN (RFC 5280 §7.1): WL-020."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    env, setup, server = mtls_source
    listed = env.pki.entry(CONSUMER_CERT).subject  # CN=consumer.drimlab.test,OU=...,O=...,...
    parts = dict(p.split("=", 1) for p in listed.split(","))
    rdn = x509.RelativeDistinguishedName
    merged = x509.Name(
        [
            rdn([x509.NameAttribute(NameOID.COUNTRY_NAME, parts["C"])]),
            rdn([x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, parts["ST"])]),
            rdn([x509.NameAttribute(NameOID.ORGANIZATION_NAME, parts["O"])]),
            rdn(
                [
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, parts["OU"]),
                    x509.NameAttribute(NameOID.COMMON_NAME, parts["CN"]),
                ]
            ),
        ]
    )
    env.pki.issue(
        "merged-rdn",
        parts["CN"],
        ou=parts["OU"],
        organisation=parts["O"],
        state=parts["ST"],
        subject_name=merged,
    )
    exam = next(iter(setup.index.snapshot.exams.values()))
    with _session(env, "merged-rdn") as session:
        response = session.get(
            f"https://localhost:{server.port}/dicom-web/studies/{exam.study_instance_uid}",
            headers={
                "Authorization": f"Bearer {env.issuer.issue()}",
                "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
            },
        )
    assert response.status_code == 403
    assert response.json()["cause"] == "certificate-not-listed"
    assert setup.recorder.wait_for(1, timeout=60)
    report = setup.recorder.recorded[0].report
    assert "WL-020" in {f.rule for f in report.findings}
    assert report.verdict.value == "FAILED"


def test_unlisted_certificate_gets_403_and_a_wl_finding(mtls_source) -> None:
    env, setup, server = mtls_source
    exam = next(iter(setup.index.snapshot.exams.values()))
    with _session(env, "unlisted") as session:
        response = session.get(
            f"https://localhost:{server.port}/dicom-web/studies/{exam.study_instance_uid}",
            headers={"Authorization": f"Bearer {env.issuer.issue()}"},
        )
    assert response.status_code == 403
    assert setup.recorder.wait_for(1, timeout=60)
    assert "WL-020" in {f.rule for f in setup.recorder.recorded[0].report.findings}


@pytest.mark.parametrize(("name", "rule"), [("rogue", "TLS-002"), ("expired", "TLS-003")])
def test_refused_handshake_is_recorded_as_an_exchange(mtls_source, name: str, rule: str) -> None:
    env, setup, server = mtls_source
    result = subprocess.run(
        [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
            "--cacert", str(env.pki.bundle_path),
            "--cert", str(env.pki.chain_path(name)), "--key", str(env.pki.key_path(name)),
            f"https://localhost:{server.port}/dicom-web/studies/1.2.3",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stdout == "000"  # no HTTP response: the handshake itself was refused
    assert setup.recorder.wait_for(1, timeout=60)
    recorded = setup.recorder.recorded[0]
    assert recorded.report.facts["kind"] == "handshake"
    assert [f.rule for f in recorded.report.findings] == [rule]


def test_tls_1_1_client_is_refused(mtls_source) -> None:
    env, setup, server = mtls_source
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 is deprecated
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT@SECLEVEL=0")
    context.load_verify_locations(str(env.pki.bundle_path))
    context.load_cert_chain(env.pki.chain_path(CONSUMER_CERT), env.pki.key_path(CONSUMER_CERT))
    import socket

    raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    tls = context.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    try:
        with pytest.raises(ssl.SSLError):
            tls.do_handshake()
    finally:
        tls.close()
    assert setup.recorder.wait_for(1, timeout=60)
    assert [f.rule for f in setup.recorder.recorded[0].report.findings] == ["TLS-007"]


def test_notice_tells_a_vendor_what_to_configure(mtls_source) -> None:
    env, setup, server = mtls_source
    text = notice(setup, server.origin)
    assert str(env.pki.bundle_path) in text
    assert str(env.pki.chain_path(CONSUMER_CERT)) in text
    exam = next(iter(setup.index.snapshot.exams.values()))
    assert exam.kos.sop_instance_uid in text
    assert "curl --cacert" in text


def test_exchanges_cli_lists_and_shows(mtls_source, capsys) -> None:
    env, setup, server = mtls_source
    exam = next(iter(setup.index.snapshot.exams.values()))
    with _session(env) as session:
        session.get(
            f"https://localhost:{server.port}/dicom-web/studies/{exam.study_instance_uid}",
            headers={
                "Authorization": f"Bearer {env.issuer.issue()}",
                "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
            },
        )
    assert setup.recorder.wait_for(1, timeout=60)
    assert run(["exchanges", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["status"] == 200
    assert rows[0]["verdicts"] == ["PASSED"]
    assert run(["exchanges", "show", rows[0]["id"][:8]]) == 0
    shown = capsys.readouterr().out
    assert "KOS-SOPInstanceUID" in shown
    assert "PASSED" in shown
    assert run(["exchanges", "show", "nope"]) == 2
