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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drimlab.errors import ConfigurationError, InputError
from drimlab.testing.process import ChildProcess, ManagedPeer, require_program

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


class OrthancServer(ManagedPeer):
    """A private Orthanc process; a context manager (`start()` / `stop()` work too)."""

    name = "Orthanc"

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        program: str = ORTHANC_PROGRAM,
        plugin: Path = DICOMWEB_PLUGIN,
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(workdir, startup_timeout)
        self._program = program
        self._plugin = plugin

    # -- lifecycle ---------------------------------------------------------------------------

    def _program_path(self) -> str:
        program = require_program(self._program, "Orthanc (Debian package `orthanc`)")
        if not self._plugin.is_file():
            raise ConfigurationError(
                f"the Orthanc DICOMweb plugin is not installed ({self._plugin} not found; "
                "Debian package `orthanc-dicomweb`)"
            )
        return program

    def _launch(self, program: str, port: int) -> ChildProcess:
        """Start Orthanc on `port` and wait until `GET /system` answers."""
        config = self._write_config(port)
        process = ChildProcess([program, str(config)], log_path=self.log_path, cwd=self.workdir)
        try:
            process.wait_until(self._answers, timeout=self._startup_timeout, what="Orthanc")
        except ConfigurationError:
            process.stop()
            raise
        return process

    # -- facts -------------------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return self.workdir / "orthanc.log"

    @property
    def url(self) -> str:
        """The server's root URL (its REST API)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The WADO-RS base URL: everything before `/studies`."""
        return f"{self.url}{DICOMWEB_ROOT}"

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
