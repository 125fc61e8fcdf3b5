"""nginx as a mutual-TLS front of a plain HTTP upstream (e.g. Orthanc), launched by hand.

    with MtlsProxy(upstream=orthanc.url, ca_file=ca, cert_file=crt, key_file=key) as proxy:
        url = f"{proxy.url}/dicom-web/studies/..."

nginx runs in the foreground as one process (no master, no daemon) with its own prefix,
configuration, pid file, temp directories and error log in a temp directory, on a free
loopback port: no root needed. It requires a client certificate issued by `ca_file`
(`ssl_verify_client on`), passes the verified subject DN upstream as `X-SSL-Client-S-DN`
(replacing any such header from the client), tells the upstream the public origin with
`Forwarded: host=...;proto=https` (unquoted unless `quote_forwarded=True`: see
docs/orthanc-deviations.md), and adds `Strict-Transport-Security` to every response unless
`hsts=False`.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from drimlab.errors import ConfigurationError
from drimlab.testing.process import ChildProcess, free_port, port_accepts, require_program

NGINX_PROGRAM = "nginx"
_ATTEMPTS = 3

_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid "{prefix}/nginx.pid";
error_log "{prefix}/error.log" {log_level};

events {{
    worker_connections 256;
}}

http {{
    access_log "{prefix}/access.log";
    client_body_temp_path "{prefix}/tmp/body";
    proxy_temp_path "{prefix}/tmp/proxy";
    fastcgi_temp_path "{prefix}/tmp/fastcgi";
    uwsgi_temp_path "{prefix}/tmp/uwsgi";
    scgi_temp_path "{prefix}/tmp/scgi";

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost 127.0.0.1;

        ssl_certificate "{cert_file}";
        ssl_certificate_key "{key_file}";
        ssl_client_certificate "{ca_file}";
        ssl_verify_client on;
        ssl_verify_depth 3;
        ssl_protocols TLSv1.2 TLSv1.3;

        location / {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-SSL-Client-S-DN $ssl_client_s_dn;
            proxy_set_header Forwarded {forwarded};
            # Stream large responses through instead of spooling them to temp files.
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
{hsts}        }}
    }}
}}
"""


class MtlsProxy:
    """A private nginx terminating mutual TLS in front of `upstream`; a context manager."""

    def __init__(
        self,
        *,
        upstream: str,
        ca_file: Path,
        cert_file: Path,
        key_file: Path,
        workdir: Path | None = None,
        program: str = NGINX_PROGRAM,
        startup_timeout: float = 15.0,
        log_level: str = "info",
        quote_forwarded: bool = False,
        hsts: bool = True,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.netloc or parts.path not in ("", "/"):
            raise ConfigurationError(
                f"upstream must be a plain http://host:port URL without a path: {upstream}"
            )
        for what, path in (("CA", ca_file), ("certificate", cert_file), ("key", key_file)):
            if not Path(path).is_file():
                raise ConfigurationError(f"nginx {what} file not found: {path}")
        self._upstream = f"http://{parts.netloc}"
        self._files = (Path(ca_file).resolve(), Path(cert_file).resolve(), Path(key_file).resolve())
        self._given_workdir = Path(workdir) if workdir is not None else None
        self._program = program
        self._startup_timeout = startup_timeout
        self._log_level = log_level
        # RFC 7239 wants `host="h:port"` quoted, but Orthanc keeps the quotes in the URLs it
        # builds (docs/orthanc-deviations.md): unquoted by default so Orthanc gets it right.
        self._quote_forwarded = quote_forwarded
        # A DRIMBox source sends HSTS (DRIM-M); the front adds it unless told not to.
        self._hsts = hsts
        self._workdir: Path | None = None
        self._process: ChildProcess | None = None
        self._port = 0

    def start(self) -> MtlsProxy:
        """Write the configuration, launch nginx, wait until its port accepts connections."""
        if self._process is not None:
            return self
        program = require_program(self._program, "nginx (Debian package `nginx`)")
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            self._workdir = self._given_workdir
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="drimlab-nginx-"))
        (self._workdir / "tmp").mkdir(exist_ok=True)
        error: ConfigurationError | None = None
        for _ in range(_ATTEMPTS):
            self._port = free_port()
            conf = self._write_conf(self._port)
            argv = [program, "-p", str(self._workdir), "-e", str(self.error_log), "-c", str(conf)]
            process = ChildProcess(argv, log_path=self._workdir / "nginx.out", cwd=self._workdir)
            try:
                process.wait_until(
                    functools.partial(port_accepts, self._port),
                    timeout=self._startup_timeout,
                    what="nginx",
                )
            except ConfigurationError as exc:
                error = ConfigurationError(f"{exc}; error log: {self.error_log_text(600)!r}")
                process.stop()
                continue
            self._process = process
            return self
        self._cleanup_dir()
        assert error is not None
        raise error

    def stop(self) -> None:
        """Stop nginx; remove its directory unless the caller gave it."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._cleanup_dir()

    def __enter__(self) -> MtlsProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise ConfigurationError("nginx is not started")
        return self._workdir

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    @property
    def port(self) -> int:
        if self._process is None:
            raise ConfigurationError("nginx is not started")
        return self._port

    @property
    def url(self) -> str:
        """The public HTTPS origin of the proxy."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ConfigurationError("nginx is not started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def error_log_text(self, limit: int = 20_000) -> str:
        """The tail of nginx's error log."""
        if self._workdir is None or not self.error_log.exists():
            return ""
        return self.error_log.read_text(errors="replace")[-limit:]

    def _write_conf(self, port: int) -> Path:
        ca_file, cert_file, key_file = self._files
        text = _CONF.format(
            prefix=self.workdir,
            port=port,
            upstream=self._upstream,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            log_level=self._log_level,
            hsts=(
                '            add_header Strict-Transport-Security "max-age=63072000" always;\n'
                if self._hsts
                else ""
            ),
            forwarded=(
                '"host=\\"$host:$server_port\\";proto=https"'
                if self._quote_forwarded
                else '"host=$host:$server_port;proto=https"'
            ),
        )
        path = self.workdir / "nginx.conf"
        path.write_text(text)
        return path

    def _cleanup_dir(self) -> None:
        if self._workdir is not None and self._given_workdir is None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
