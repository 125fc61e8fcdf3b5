"""Mutual TLS over a real loopback socket: aiohttp + server_context, Python and curl clients.

TLS 1.1 is offered by a Python client context with `@SECLEVEL=0` and maximum_version TLSv1_1
(the system OpenSSL refuses to offer TLS 1.1 at its default security level), and again by
`openssl s_client -tls1_1`; the server must answer a protocol_version alert.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import warnings
from pathlib import Path

import pytest

from drimlab.facts.tls import TlsFacts
from drimlab.trust.enforce import server_facts
from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.tls import ALLOWED_CIPHERS, client_context
from drimlab.trust.whitelist import Whitelist, load_whitelist
from tests.trust.conftest import MtlsServer, judged

# certificate name -> the one rule code its refusal must carry
REFUSALS = {
    None: "TLS-001",
    "rogue": "TLS-002",
    "expired": "TLS-003",
    "not-yet-valid": "TLS-004",
    "revoked": "TLS-005",
    "wrong-usage": "TLS-006",
    "unlisted": "WL-020",
}


def _get(pki: Pki, server: MtlsServer, name: str | None) -> tuple[int, dict[str, object]] | str:
    """GET /peer with the named client certificate; the status and JSON, or the error text."""
    context = client_context(
        pki.chain_path(name) if name else None,
        pki.key_path(name) if name else None,
        pki.bundle_path,
    )
    conn = http.client.HTTPSConnection("localhost", server.port, context=context, timeout=60)
    try:
        conn.request("GET", "/peer")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def test_good_client_is_accepted_and_its_dn_read_by_the_app(
    pki: Pki, mtls_server: MtlsServer
) -> None:
    mtls_server.reset()
    outcome = _get(pki, mtls_server, "consumer")
    assert isinstance(outcome, tuple), outcome
    status, body = outcome
    assert status == 200
    peer = body["peer"]
    assert isinstance(peer, dict)
    assert peer["subject"] == pki.entry("consumer").subject
    assert peer["organisational_unit"] == "300000000990029"
    assert peer["common_name"] == "consumer.drimlab.test"
    assert peer["chain_status"] == "verified"
    assert peer["revocation_status"] == "good"
    assert peer["tls_version"] in {"TLSv1.2", "TLSv1.3"}
    assert peer["cipher"] in ALLOWED_CIPHERS
    assert body["findings"] == []
    assert mtls_server.all_codes() == []


@pytest.mark.parametrize("name", list(REFUSALS), ids=[str(n) for n in REFUSALS])
def test_each_bad_client_is_refused_with_its_own_code(
    pki: Pki, mtls_server: MtlsServer, name: str | None
) -> None:
    mtls_server.reset()
    outcome = _get(pki, mtls_server, name)
    if isinstance(outcome, tuple):  # refused by the application, after the handshake
        assert outcome[0] == 403
    assert mtls_server.all_codes() == [REFUSALS[name]]


def test_tls_1_1_client_is_refused_with_a_protocol_version_alert(
    pki: Pki, mtls_server: MtlsServer
) -> None:
    mtls_server.reset()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 is deprecated
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT@SECLEVEL=0")
    context.load_verify_locations(cafile=str(pki.bundle_path))
    context.load_cert_chain(pki.chain_path("consumer"), pki.key_path("consumer"))
    with (
        socket.create_connection(("127.0.0.1", mtls_server.port), timeout=60) as raw,
        pytest.raises(ssl.SSLError) as error,
    ):
        context.wrap_socket(raw, server_hostname="localhost")
    assert error.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"
    assert mtls_server.all_codes() == ["TLS-007"]


@pytest.mark.peer
def test_openssl_s_client_tls_1_1_is_refused(pki: Pki, mtls_server: MtlsServer) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed")
    mtls_server.reset()
    result = subprocess.run(
        [
            openssl,
            "s_client",
            "-connect",
            f"127.0.0.1:{mtls_server.port}",
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-CAfile",
            str(pki.bundle_path),
            "-cert",
            str(pki.chain_path("consumer")),
            "-key",
            str(pki.key_path("consumer")),
        ],
        input=b"",
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert b"alert protocol version" in result.stderr, result.stderr
    assert mtls_server.all_codes() == ["TLS-007"]


def _curl(pki: Pki, server: MtlsServer, name: str | None) -> subprocess.CompletedProcess[bytes]:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed")
    args = [curl, "-sS", "--max-time", "20", "--cacert", str(pki.bundle_path)]
    if name is not None:
        args += ["--cert", str(pki.chain_path(name)), "--key", str(pki.key_path(name))]
    # curl must not pick up a user's CA bundle or proxy from the environment.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path(pki.directory).parent)}
    return subprocess.run(
        [*args, server.url], capture_output=True, timeout=60, check=False, env=env
    )


@pytest.mark.peer
def test_curl_good_client_is_accepted(pki: Pki, mtls_server: MtlsServer) -> None:
    mtls_server.reset()
    result = _curl(pki, mtls_server, "consumer")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["peer"]["subject"] == pki.entry("consumer").subject
    assert body["findings"] == []


@pytest.mark.peer
@pytest.mark.parametrize("name", list(REFUSALS), ids=[str(n) for n in REFUSALS])
def test_curl_bad_clients_are_refused_with_their_own_code(
    pki: Pki, mtls_server: MtlsServer, name: str | None
) -> None:
    mtls_server.reset()
    result = _curl(pki, mtls_server, name)
    if result.returncode == 0:  # the handshake passed: the app refused with 403 + findings
        body = json.loads(result.stdout)
        assert [f["rule"] for f in body["findings"]] == [REFUSALS[name]]
    else:  # refused in the handshake: curl reports the server's TLS alert, not a bare EOF
        assert b"alert" in result.stderr, result.stderr
    assert mtls_server.all_codes() == [REFUSALS[name]]


def _server_facts(
    server: MtlsServer,
    context: ssl.SSLContext,
    hosts: tuple[str, ...] = ("localhost",),
    whitelist: Whitelist | None = None,
    crl: RevocationList | None = None,
) -> list[TlsFacts]:
    """The source connection's facts as the client simulator records them, per host looked up."""
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=60) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        found = [server_facts(tls, host, whitelist, crl=crl) for host in hosts]
    assert all(f.peer is not None for f in found)
    return found


def test_client_side_check_of_the_source(
    pki: Pki, mtls_server: MtlsServer, signed_bench_list: Path
) -> None:
    context = client_context(pki.chain_path("consumer"), pki.key_path("consumer"), pki.bundle_path)
    whitelist = load_whitelist(signed_bench_list)
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    hosts = ("localhost", "db9.example.test", "consumer.drimlab.test")
    listed, unlisted, swapped = _server_facts(mtls_server, context, hosts, whitelist, crl)
    assert listed.chain_verified
    assert listed.peer is not None and listed.peer.subject == pki.entry("source").subject
    assert [f.rule for f in judged(listed)] == []
    assert [f.rule for f in judged(unlisted)] == ["WL-021"]
    # The consumer's host is listed, but with the consumer's DN, not the source's.
    assert [f.rule for f in judged(swapped)] == ["WL-022"]


def test_environment_never_widens_trust(
    pki: Pki, mtls_server: MtlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that trusts only the rogue root must refuse the genuine source even when the
    # environment points OpenSSL and requests at the genuine bundle.
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(variable, str(pki.bundle_path))
    mtls_server.reset()
    context = client_context(
        pki.chain_path("consumer"), pki.key_path("consumer"), pki.cert_path("rogue-root")
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        _server_facts(mtls_server, context)


def test_revoked_client_facts_carry_the_revocation_status(
    pki: Pki, mtls_server: MtlsServer
) -> None:
    mtls_server.reset()
    outcome = _get(pki, mtls_server, "revoked")
    assert isinstance(outcome, tuple), outcome
    peer = outcome[1]["peer"]
    assert isinstance(peer, dict)
    assert peer["revocation_status"] == "revoked"
    assert peer["chain_status"] == "verified"


def test_whitelist_fixture_lists_the_bench_drimboxes(signed_bench_list: Path, pki: Pki) -> None:
    whitelist: Whitelist = load_whitelist(signed_bench_list)
    assert whitelist.domain_for_dn(pki.entry("consumer").subject) is not None
    assert whitelist.domain_for_dn(pki.entry("unlisted").subject) is None
