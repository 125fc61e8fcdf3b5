"""nginx terminates mutual TLS in front of a real upstream; captures through it stay exact."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session

from drimlab.errors import ConfigurationError, InputError
from drimlab.testing.capture import capture_response, client_tls_context
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.process import free_port
from tests.peers.conftest import INSTANCES_PER_SERIES, LoadedStudy, PeerPki

pytestmark = pytest.mark.peer


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every GET with the request headers it received, as JSON."""

    def do_GET(self) -> None:
        body = json.dumps(list(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def echo_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _client_tls(pki: PeerPki, *, stranger: bool = False, anonymous: bool = False) -> ssl.SSLContext:
    if anonymous:
        return client_tls_context(pki.ca)
    if stranger:
        return client_tls_context(pki.ca, pki.stranger_cert, pki.stranger_key)
    return client_tls_context(pki.ca, pki.client_cert, pki.client_key)


def _parts(body: bytes, boundary: str) -> list[bytes]:
    """Part payloads of a multipart body (test-side check, independent of drimlab's decoder)."""
    delimiter = b"--" + boundary.encode()
    pieces = body.split(b"\r\n" + delimiter)
    first = pieces[0]
    assert first.startswith(delimiter)
    out = []
    for piece in [first[len(delimiter) :], *pieces[1:]]:
        if piece.startswith(b"--"):
            break
        out.append(piece.split(b"\r\n\r\n", 1)[1])
    return out


def _boundary(content_type: str) -> str:
    for param in content_type.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise AssertionError(f"no boundary in {content_type}")


def _dechunk(raw: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        end = raw.index(b"\r\n", pos)
        size = int(raw[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += raw[end + 2 : end + 2 + size]
        assert raw[end + 2 + size : end + 4 + size] == b"\r\n"
        pos = end + 4 + size


def test_series_through_mtls_is_captured_raw_and_dechunked(
    proxy: MtlsProxy, orthanc_study: LoadedStudy, test_pki: PeerPki, tmp_path: Path
) -> None:
    series_uid, sops = next(iter(orthanc_study.series.items()))
    url = f"{proxy.url}/dicom-web/studies/{orthanc_study.study_uid}/series/{series_uid}"
    accept = [("Accept", 'multipart/related; type="application/dicom"')]
    raw = capture_response(url, tmp_path / "raw.http", headers=accept, tls=_client_tls(test_pki))
    plain = capture_response(
        url, tmp_path / "plain.http", headers=accept, tls=_client_tls(test_pki), dechunk=True
    )
    assert raw.status == plain.status == 200
    assert raw.framing == "chunked" and not raw.dechunked and raw.complete
    assert plain.dechunked and plain.complete
    assert raw.tls_version in ("TLSv1.2", "TLSv1.3")
    assert raw.peer_certificate is not None
    head_end = raw.path.read_bytes().index(b"\r\n\r\n") + 4
    raw_body = raw.path.read_bytes()[head_end:]
    assert len(raw_body) == raw.body_size
    payload = plain.path.read_bytes()[plain.path.read_bytes().index(b"\r\n\r\n") + 4 :]
    # Each response has its own boundary: compare what the two bodies carry.
    raw_type, plain_type = raw.header("Content-Type"), plain.header("Content-Type")
    assert raw_type is not None and plain_type is not None
    parts = _parts(_dechunk(raw_body), _boundary(raw_type))
    assert parts == _parts(payload, _boundary(plain_type))
    assert len(parts) == INSTANCES_PER_SERIES
    assert sorted(pydicom.dcmread(BytesIO(p)).SOPInstanceUID for p in parts) == sorted(sops)


def test_missing_or_foreign_client_certificate_is_refused(
    proxy: MtlsProxy, test_pki: PeerPki, tmp_path: Path
) -> None:
    url = f"{proxy.url}/dicom-web/studies"
    anonymous = capture_response(
        url, tmp_path / "a.http", tls=_client_tls(test_pki, anonymous=True)
    )
    assert anonymous.status == 400
    assert b"No required SSL certificate was sent" in anonymous.path.read_bytes()
    stranger = capture_response(url, tmp_path / "s.http", tls=_client_tls(test_pki, stranger=True))
    assert stranger.status == 400
    assert b"certificate" in stranger.path.read_bytes().lower()


def test_plain_http_to_the_tls_port_does_not_reach_orthanc(
    proxy: MtlsProxy, tmp_path: Path
) -> None:
    answer = capture_response(f"http://127.0.0.1:{proxy.port}/dicom-web/studies", tmp_path / "p")
    assert answer.status == 400
    assert b"plain HTTP request was sent to HTTPS port" in answer.path.read_bytes()


def test_orthanc_builds_urls_from_the_forwarded_header(
    proxy: MtlsProxy, orthanc_study: LoadedStudy, test_pki: PeerPki
) -> None:
    session = create_session()
    session.trust_env = False  # an explicit trust setting must not be overridden (PEERS.md)
    session.verify = str(test_pki.ca)
    session.cert = (str(test_pki.client_cert), str(test_pki.client_key))
    client = DICOMwebClient(url=f"{proxy.url}/dicom-web", session=session)
    found = client.search_for_series(study_instance_uid=orthanc_study.study_uid)
    urls = {item["00081190"]["Value"][0] for item in found}
    assert urls and all(u.startswith(f"{proxy.url}/dicom-web/studies/") for u in urls)
    series_uid, sops = next(iter(orthanc_study.series.items()))
    datasets = list(client.retrieve_series(orthanc_study.study_uid, series_uid))
    assert sorted(ds.SOPInstanceUID for ds in datasets) == sorted(sops)


def test_client_dn_is_passed_upstream_and_cannot_be_spoofed(
    echo_upstream: str, test_pki: PeerPki, tmp_path: Path
) -> None:
    with MtlsProxy(
        upstream=echo_upstream,
        ca_file=test_pki.ca,
        cert_file=test_pki.server_cert,
        key_file=test_pki.server_key,
    ) as proxy:
        port = proxy.port
        answer = capture_response(
            f"{proxy.url}/anything",
            tmp_path / "echo.http",
            headers=[("X-SSL-Client-S-DN", "CN=forged"), ("Forwarded", "host=evil")],
            tls=_client_tls(test_pki),
        )
    assert answer.status == 200
    body = answer.path.read_bytes().split(b"\r\n\r\n", 1)[1]
    received = [(k.lower(), v) for k, v in json.loads(body)]
    assert [v for k, v in received if k == "x-ssl-client-s-dn"] == [test_pki.client_dn]
    assert [v for k, v in received if k == "forwarded"] == [f"host=127.0.0.1:{port};proto=https"]


def test_bad_proxy_setup_is_a_configuration_error(test_pki: PeerPki, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="certificate file not found"):
        MtlsProxy(
            upstream="http://127.0.0.1:1",
            ca_file=test_pki.ca,
            cert_file=tmp_path / "none.crt",
            key_file=test_pki.server_key,
        )
    with pytest.raises(ConfigurationError, match="upstream must be"):
        MtlsProxy(
            upstream="https://127.0.0.1:1/x",
            ca_file=test_pki.ca,
            cert_file=test_pki.server_cert,
            key_file=test_pki.server_key,
        )
    # A key that does not match the certificate: nginx refuses to start, we say why.
    with pytest.raises(ConfigurationError, match="nginx exited"):
        MtlsProxy(
            upstream="http://127.0.0.1:1",
            ca_file=test_pki.ca,
            cert_file=test_pki.server_cert,
            key_file=test_pki.client_key,
        ).start()


def test_unreachable_server_or_bad_trust_is_an_input_error(
    test_pki: PeerPki, proxy: MtlsProxy, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="TLS handshake failed"):
        # Trusting only the client's leaf certificate: the server is not verifiable.
        capture_response(
            f"{proxy.url}/", tmp_path / "x", tls=client_tls_context(test_pki.client_cert)
        )
    assert not (tmp_path / "x").exists()
    with pytest.raises(InputError, match="not an http"):
        capture_response("ftp://127.0.0.1/", tmp_path / "y")
    with pytest.raises(InputError, match="cannot connect"):
        capture_response(f"http://127.0.0.1:{free_port()}/", tmp_path / "z")


# -- chunk framing the capture must follow (a raw server, written in odd pieces) --------------


def _serve_once(replies: list[bytes]) -> tuple[int, threading.Thread]:
    """A one-connection server sending `replies` as separate writes, then holding the socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                for piece in replies:
                    conn.sendall(piece)
                    time.sleep(0.01)  # separate TCP segments, so pieces arrive apart
                # Keep-alive: never close first; only the chunk framing can end the capture.
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return port, thread


def test_chunked_capture_ends_at_the_last_chunk_not_at_close(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Order: 1\r\nx-order: 2\r\n\r\n"
    body = b"5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
    pieces = [head + body[:3], body[3:9], body[9:10], body[10:30], body[30:]]
    port, thread = _serve_once(pieces)
    raw = capture_response(f"http://127.0.0.1:{port}/x", tmp_path / "raw.http", timeout=10)
    thread.join()
    assert raw.framing == "chunked" and raw.complete and not raw.dechunked
    assert raw.path.read_bytes() == head + body
    assert raw.headers[-2:] == (("X-Order", "1"), ("x-order", "2"))
    port, thread = _serve_once(pieces)
    plain = capture_response(
        f"http://127.0.0.1:{port}/x", tmp_path / "plain.http", timeout=10, dechunk=True
    )
    thread.join()
    assert plain.complete and plain.dechunked
    assert plain.path.read_bytes() == head + b"hello 0123456789"
    assert plain.body_size == 16


def test_broken_chunking_is_kept_as_it_came_and_marked_incomplete(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5\r\nhello\r\nZZ\r\nrest of it"
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(head + body)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    captured = capture_response(f"http://127.0.0.1:{port}/", tmp_path / "bad.http", timeout=10)
    thread.join()
    assert not captured.complete
    assert any("chunk size" in note for note in captured.notes)
    assert captured.path.read_bytes() == head + body
