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
from pathlib import Path
from urllib.parse import urlsplit

from drimlab.errors import ConfigurationError
from drimlab.testing.process import ChildProcess, ManagedPeer, port_accepts, require_program

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


class MtlsProxy(ManagedPeer):
    """A private nginx terminating mutual TLS in front of `upstream`; a context manager."""

    name = "nginx"

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
        super().__init__(workdir, startup_timeout)
        self._program = program
        self._log_level = log_level
        # RFC 7239 wants `host="h:port"` quoted, but Orthanc keeps the quotes in the URLs it
        # builds (docs/orthanc-deviations.md): unquoted by default so Orthanc gets it right.
        self._quote_forwarded = quote_forwarded
        # A DRIMBox source sends HSTS (DRIM-M); the front adds it unless told not to.
        self._hsts = hsts

    def _program_path(self) -> str:
        return require_program(self._program, "nginx (Debian package `nginx`)")

    def _launch(self, program: str, port: int) -> ChildProcess:
        """Write the configuration, launch nginx, wait until its port accepts connections."""
        (self.workdir / "tmp").mkdir(exist_ok=True)
        conf = self._write_conf(port)
        argv = [program, "-p", str(self.workdir), "-e", str(self.error_log), "-c", str(conf)]
        process = ChildProcess(argv, log_path=self.workdir / "nginx.out", cwd=self.workdir)
        try:
            process.wait_until(
                functools.partial(port_accepts, port), timeout=self._startup_timeout, what="nginx"
            )
        except ConfigurationError as exc:
            process.stop()
            raise ConfigurationError(f"{exc}; error log: {self.error_log_text(600)!r}") from None
        return process

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    @property
    def url(self) -> str:
        """The public HTTPS origin of the proxy."""
        return f"https://127.0.0.1:{self.port}"

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
