"""A 2 GiB upload to a real `drimlab portal` process: refused with a one-line 413 while the
process's peak memory stays flat, nothing left in the upload folder or the temporary folder,
and the portal still answers; with a limit above 2 GiB, the same import is streamed to disk
and refused as not DICOM, memory flat again.
"""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from drimlab.config import Settings
from drimlab.testing.process import ChildProcess, free_port, port_accepts

pytestmark = [pytest.mark.peer, pytest.mark.slow]

DRIMLAB = str(Path(sys.executable).parent / "drimlab")
MiB = 1024 * 1024
GiB = 1024 * MiB
TWO_GIB = 2 * GiB
CHUNK = MiB
MEMORY_BUDGET = 100 * MiB
BOUNDARY = "drimlab-big-upload"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@dataclass
class ServedPortal:
    process: ChildProcess
    base: str
    uploads: Path
    tmp: Path

    def peak_rss(self) -> int:
        """The process's peak resident memory so far (VmHWM), in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def leftovers(self) -> set[Path]:
        return {p for p in self.uploads.rglob("*") if p.is_file()} | set(self.tmp.rglob("*"))


@contextmanager
def _portal(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *options: str
) -> Iterator[ServedPortal]:
    port = free_port()
    tmp = tmp_path / f"tmp-{port}"  # the process's temporary files (a form's spooled parts)
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    argv = [DRIMLAB, "portal", "--port", str(port), "--simulator-url", "https://localhost:1/x"]
    process = ChildProcess(
        [*argv, *options], log_path=tmp_path / f"portal-{port}.log", cwd=tmp_path
    )
    try:
        process.wait_until(functools.partial(port_accepts, port), timeout=120, what="portal")
        yield ServedPortal(process, f"http://127.0.0.1:{port}", settings.home / "uploads", tmp)
    finally:
        process.stop()


def _zeros(total: int) -> Iterator[bytes]:
    block = bytes(CHUNK)  # one block, sent again and again: the client's memory stays flat
    for start in range(0, total, CHUNK):
        yield block if total - start >= CHUNK else block[: total - start]


def _multipart(field: str, total: int, fields: dict[str, str] | None = None) -> Iterator[bytes]:
    for name, value in (fields or {}).items():
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="big.dcm"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    yield from _zeros(total)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _warm_up(client: httpx.Client) -> None:
    """Load what the first requests load (templates, validators), so the peak is the upload's."""
    request = b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert client.get("/").status_code == 200
    client.post("/api/validations", params={"validator": "request"}, content=request)
    client.post("/validate", data={"kind": "request"}, files={"file": ("r.http", request)})
    client.post("/datasets/import", files={"files": ("a.dcm", b"not DICOM")})


def _one_line(answer: httpx.Response) -> str:
    if answer.headers["content-type"].startswith("application/json"):
        reason = str(answer.json()["error"])
    else:
        reason = answer.text.strip()
    assert reason and "\n" not in reason, answer.text[:500]
    return reason


def test_a_2_gib_upload_is_refused_with_flat_memory_and_nothing_left(
    default_dataset_copy: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        _portal(default_dataset_copy, tmp_path, monkeypatch) as served,
        httpx.Client(base_url=served.base, timeout=300) as client,
    ):
        _warm_up(client)
        before, baseline = served.leftovers(), served.peak_rss()
        uploads = {
            "dataset import (chunked)": lambda: client.post(
                "/datasets/import", content=_multipart("files", TWO_GIB), headers=MULTIPART
            ),
            "API raw body (chunked)": lambda: client.post(
                "/api/validations", params={"validator": "request"}, content=_zeros(TWO_GIB)
            ),
            "validator form (chunked)": lambda: client.post(
                "/validate",
                content=_multipart("file", TWO_GIB, {"kind": "request"}),
                headers=MULTIPART,
            ),
            "API raw body (Content-Length)": lambda: client.post(
                "/api/validations",
                params={"validator": "request"},
                content=_zeros(TWO_GIB),
                headers={"Content-Length": str(TWO_GIB)},
            ),
        }
        peaks: dict[str, int] = {}
        for what, send in uploads.items():
            answer = send()
            assert answer.status_code == 413, (what, answer.status_code, answer.text[:300])
            assert "larger than" in _one_line(answer), what
            peaks[what] = served.peak_rss() - baseline
            assert peaks[what] < MEMORY_BUDGET, (what, peaks[what] // MiB)
            assert served.leftovers() == before, what
            assert client.get("/server").status_code == 200, what
        print(f"\nbaseline VmHWM {baseline / MiB:.0f} MiB; growth per upload (MiB):")
        for what, grown in peaks.items():
            print(f"  {what}: {grown / MiB:.1f}")


def test_under_a_limit_above_2_gib_the_import_is_streamed_then_refused_as_not_dicom(
    default_dataset_copy: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = shutil.disk_usage(tmp_path).free
    if free < 6 * GiB:
        pytest.skip(f"needs 6 GiB free for two copies of a 2 GiB upload ({free // GiB} GiB free)")
    with (
        _portal(default_dataset_copy, tmp_path, monkeypatch, "--upload-limit", "3072") as served,
        httpx.Client(base_url=served.base, timeout=600) as client,
    ):
        _warm_up(client)
        before, baseline = served.leftovers(), served.peak_rss()
        answer = client.post(
            "/datasets/import", content=_multipart("files", TWO_GIB), headers=MULTIPART
        )
        assert answer.status_code == 400, answer.text[:500]
        assert "big.dcm: not a DICOM file" in answer.text
        grown = served.peak_rss() - baseline
        print(f"\nbaseline VmHWM {baseline / MiB:.0f} MiB; 2 GiB import: +{grown / MiB:.1f} MiB")
        assert grown < MEMORY_BUDGET, grown // MiB
        assert served.leftovers() == before
        assert client.get("/datasets").status_code == 200
