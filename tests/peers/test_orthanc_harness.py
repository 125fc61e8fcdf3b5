"""The Orthanc harness starts a real WADO-RS server, loads it, and never leaves it behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

from drimlab.errors import ConfigurationError, InputError
from drimlab.testing.capture import capture_response
from drimlab.testing.orthanc import OrthancServer
from tests.peers.conftest import INSTANCES_PER_SERIES, LoadedStudy

pytestmark = pytest.mark.peer


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, attempts: int = 200) -> bool:
    for _ in range(attempts):
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_orthanc_answers_and_holds_the_study(
    orthanc: OrthancServer, orthanc_study: LoadedStudy
) -> None:
    system = orthanc.get_json("/system")
    assert system["Version"].startswith("1.")
    assert "dicom-web" in orthanc.get_json("/plugins")
    assert len(orthanc.get_json("/instances")) == len(orthanc_study.paths)
    assert orthanc.base_url == f"http://127.0.0.1:{orthanc.port}/dicom-web"
    assert orthanc.log_path.is_file()


def test_dicomweb_client_retrieves_each_series(
    orthanc: OrthancServer, orthanc_study: LoadedStudy
) -> None:
    client = DICOMwebClient(url=orthanc.base_url)
    found = client.search_for_series(study_instance_uid=orthanc_study.study_uid)
    assert {item["0020000E"]["Value"][0] for item in found} == set(orthanc_study.series)
    for series_uid, sops in orthanc_study.series.items():
        datasets = list(
            client.retrieve_series(
                study_instance_uid=orthanc_study.study_uid, series_instance_uid=series_uid
            )
        )
        assert len(datasets) == INSTANCES_PER_SERIES
        assert sorted(ds.SOPInstanceUID for ds in datasets) == sorted(sops)


def test_loading_a_non_dicom_file_is_an_input_error(orthanc: OrthancServer, tmp_path: Path) -> None:
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"this is not DICOM" * 10)
    with pytest.raises(InputError, match=r"junk\.dcm: Orthanc refused"):
        orthanc.load([junk])
    with pytest.raises(InputError, match="cannot read"):
        orthanc.load([tmp_path / "missing.dcm"])


def test_missing_orthanc_or_plugin_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"Orthanc .* is not installed"):
        OrthancServer(program="no-such-orthanc-program").start()
    with pytest.raises(ConfigurationError, match="DICOMweb plugin is not installed"):
        OrthancServer(plugin=tmp_path / "libNothing.so").start()


def test_stop_ends_the_process_and_removes_its_directory() -> None:
    with OrthancServer() as server:
        pid = server.pid
        workdir = server.workdir
        assert server.running
    assert _wait_gone(pid)
    assert not workdir.exists()
    assert not server.running


def test_a_killed_test_process_takes_its_orthanc_with_it(tmp_path: Path) -> None:
    # A child Python starts Orthanc, reports its pid, then is SIGKILLed (no atexit, no
    # finally): the parent-death signal must still stop Orthanc.
    script = (
        "import sys, time\n"
        "from drimlab.testing.orthanc import OrthancServer\n"
        f"server = OrthancServer({str(tmp_path / 'o')!r}).start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        pid = int(child.stdout.readline())
        assert _alive(pid)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert _wait_gone(pid), f"Orthanc {pid} survived its parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close() if child.stdout else None


# -- captures straight from Orthanc (no proxy) ------------------------------------------------


def _split_parts(body: bytes, content_type: str) -> list[bytes]:
    """Part payloads, found the simple way (independent of drimlab's multipart decoder)."""
    boundary = next(
        p.strip().partition("=")[2].strip('"')
        for p in content_type.split(";")
        if p.strip().lower().startswith("boundary=")
    )
    delimiter = b"\r\n--" + boundary.encode()
    pieces = (b"\r\n" + body).split(delimiter)[1:]
    return [p.split(b"\r\n\r\n", 1)[1] for p in pieces if not p.startswith(b"--")]


def test_series_capture_keeps_orthancs_head_and_close_delimited_body(
    orthanc: OrthancServer, orthanc_study: LoadedStudy, tmp_path: Path
) -> None:
    series_uid, sops = next(iter(orthanc_study.series.items()))
    url = f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
    headers = [("Accept", 'multipart/related; type="application/dicom"'), ("X-Test", "1")]
    captured = capture_response(
        url,
        tmp_path / "series.http",
        headers=headers,
        request_path=tmp_path / "rq.http",
        sidecar=True,
    )
    assert (captured.status, captured.reason, captured.http_version) == (200, "OK", "HTTP/1.1")
    assert captured.framing == "close" and captured.complete
    assert captured.header("Content-Length") is None
    data = captured.path.read_bytes()
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert [line.split(b":", 1)[0].decode() for line in head.split(b"\r\n")[1:]] == [
        name for name, _ in captured.headers
    ]
    assert len(body) == captured.body_size
    assert hashlib.sha256(body).hexdigest() == captured.body_sha256
    content_type = captured.header("Content-Type") or ""
    parts = _split_parts(body, content_type)
    assert sorted(pydicom.dcmread(BytesIO(p)).SOPInstanceUID for p in parts) == sorted(sops)
    request = (tmp_path / "rq.http").read_bytes()
    assert request.startswith(f"GET /dicom-web/studies/{orthanc_study.study_uid}/".encode())
    assert request.endswith(b"\r\nX-Test: 1\r\n\r\n")
    sidecar = json.loads((tmp_path / "series.http.json").read_text())
    assert sidecar["framing"] == "close" and sidecar["dechunked"] is False


def test_instance_capture_stops_at_content_length(
    orthanc: OrthancServer, orthanc_study: LoadedStudy, tmp_path: Path
) -> None:
    series_uid, sops = next(iter(orthanc_study.series.items()))
    url = (
        f"{orthanc.base_url}/studies/{orthanc_study.study_uid}/series/{series_uid}"
        f"/instances/{sops[0]}"
    )
    # Keep-alive: only Content-Length can end this capture.
    headers = [
        ("Accept", 'multipart/related; type="application/dicom"'),
        ("Connection", "keep-alive"),
    ]
    captured = capture_response(url, tmp_path / "instance.http", headers=headers)
    assert captured.framing == "content-length" and captured.complete
    assert captured.body_size == int(captured.header("Content-Length") or -1)
    body = captured.path.read_bytes().split(b"\r\n\r\n", 1)[1]
    parts = _split_parts(body, captured.header("Content-Type") or "")
    assert [pydicom.dcmread(BytesIO(p)).SOPInstanceUID for p in parts] == [sops[0]]


def test_error_statuses_are_captured_like_any_response(
    orthanc: OrthancServer, tmp_path: Path
) -> None:
    unknown = capture_response(
        f"{orthanc.base_url}/studies/1.2.3.4.5.999",
        tmp_path / "404.http",
        headers=[("Accept", 'multipart/related; type="application/dicom"')],
    )
    assert unknown.status == 404
    single = capture_response(
        f"{orthanc.base_url}/studies/1.2.3.4.5.999",
        tmp_path / "400.http",
        headers=[("Accept", "application/dicom")],
    )
    assert single.status in (400, 404)
    assert single.path.read_bytes().startswith(f"HTTP/1.1 {single.status} ".encode())
