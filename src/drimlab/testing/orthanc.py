"""Orthanc with its DICOMweb plugin as a real WADO-RS server, started by hand in a temp dir.

    with OrthancServer() as orthanc:
        orthanc.load(paths)
        url = f"{orthanc.base_url}/studies/{study_uid}/series/{series_uid}"

The server listens on a free loopback port, keeps its storage and log in its own directory,
and is stopped (and its directory removed, unless it was given by the caller) on exit.
"""

from __future__ import annotations

import http.client
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from drimlab.errors import ConfigurationError, InputError
from drimlab.testing.process import ChildProcess, free_port, require_program

ORTHANC_PROGRAM = "Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
DICOMWEB_ROOT = "/dicom-web"
_ATTEMPTS = 3


@dataclass(frozen=True)
class StoredInstance:
    """What Orthanc answered to `POST /instances` for one file."""

    path: Path
    orthanc_id: str
    status: str
    parent_study: str
    parent_series: str


class OrthancServer:
    """A private Orthanc process; a context manager (`start()` / `stop()` work too)."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        program: str = ORTHANC_PROGRAM,
        plugin: Path = DICOMWEB_PLUGIN,
        startup_timeout: float = 30.0,
    ) -> None:
        self._given_workdir = Path(workdir) if workdir is not None else None
        self._program = program
        self._plugin = plugin
        self._startup_timeout = startup_timeout
        self._workdir: Path | None = None
        self._process: ChildProcess | None = None
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> OrthancServer:
        """Launch Orthanc and wait until `GET /system` answers."""
        if self._process is not None:
            return self
        program = require_program(self._program, "Orthanc (Debian package `orthanc`)")
        if not self._plugin.is_file():
            raise ConfigurationError(
                f"the Orthanc DICOMweb plugin is not installed ({self._plugin} not found; "
                "Debian package `orthanc-dicomweb`)"
            )
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            self._workdir = self._given_workdir
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="drimlab-orthanc-"))
        error: ConfigurationError | None = None
        # Another process may take the free port between our probe and Orthanc's bind.
        for _ in range(_ATTEMPTS):
            self._port = free_port()
            config = self._write_config(self._port)
            process = ChildProcess(
                [program, str(config)], log_path=self.log_path, cwd=self._workdir
            )
            try:
                process.wait_until(self._answers, timeout=self._startup_timeout, what="Orthanc")
            except ConfigurationError as exc:
                error = exc
                process.stop()
                continue
            self._process = process
            return self
        self._cleanup_dir()
        assert error is not None
        raise error

    def stop(self) -> None:
        """Stop Orthanc; remove its directory unless the caller gave it."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._cleanup_dir()

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- facts -------------------------------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise ConfigurationError("Orthanc is not started")
        return self._workdir

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    @property
    def port(self) -> int:
        self._require_running()
        return self._port

    @property
    def url(self) -> str:
        """The server's root URL (its REST API)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The WADO-RS base URL: everything before `/studies`."""
        return f"{self.url}{DICOMWEB_ROOT}"

    @property
    def pid(self) -> int:
        self._require_running()
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def log_text(self, limit: int = 20_000) -> str:
        """The tail of Orthanc's log."""
        if self._workdir is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-limit:]

    # -- REST --------------------------------------------------------------------------------

    def load(self, paths: Iterable[Path]) -> list[StoredInstance]:
        """Store DICOM Part 10 files with `POST /instances`; InputError for a file it refuses."""
        stored = []
        for path in paths:
            try:
                body = Path(path).read_bytes()
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
            status, answer = self._request("POST", "/instances", body, "application/dicom")
            if status != 200 or not isinstance(answer, dict):
                raise InputError(f"{path}: Orthanc refused the file (HTTP {status})")
            stored.append(
                StoredInstance(
                    path=Path(path),
                    orthanc_id=str(answer.get("ID", "")),
                    status=str(answer.get("Status", "")),
                    parent_study=str(answer.get("ParentStudy", "")),
                    parent_series=str(answer.get("ParentSeries", "")),
                )
            )
        return stored

    def get_json(self, path: str) -> Any:
        """`GET` a REST resource of Orthanc (e.g. `/system`, `/instances`) as JSON."""
        status, answer = self._request("GET", path)
        if status != 200:
            raise ConfigurationError(f"Orthanc answered HTTP {status} to GET {path}")
        return answer

    # -- internals ---------------------------------------------------------------------------

    def _require_running(self) -> None:
        if self._process is None:
            raise ConfigurationError("Orthanc is not started")

    def _write_config(self, port: int) -> Path:
        storage = self.workdir / "storage"
        storage.mkdir(exist_ok=True)
        config = {
            "Name": "drimlab-orthanc",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": port,
            "HttpCompressionEnabled": False,
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "WebDavEnabled": False,
            "OrthancExplorerEnabled": False,
            "SaveJobs": False,
            "Plugins": [str(self._plugin)],
            # No "Host"/"Ssl": Orthanc then builds its URLs from the request's Host header and a
            # reverse proxy's `Forwarded`, keeping the port (PEERS.md).
            "DicomWeb": {"Enable": True, "Root": f"{DICOMWEB_ROOT}/", "EnableWado": False},
        }
        path = self.workdir / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _answers(self) -> bool:
        try:
            status, _ = self._request("GET", "/system", port=self._port, timeout=1.0)
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        *,
        port: int | None = None,
        timeout: float = 60.0,
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode("utf-8", "replace")
        return response.status, answer

    def _cleanup_dir(self) -> None:
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None if self._given_workdir is None else self._workdir
