"""nginx as the HTTPS front of several portal/API workers, launched by hand.

    with PortalFront(upstreams=["127.0.0.1:8001", "127.0.0.1:8002"], cert_file=c, key_file=k):
        ...

Like `MtlsProxy`, it runs in the foreground as one process with its own prefix on a free
loopback port. It terminates TLS (people log in; with `client_ca` and `front_secret` a client
certificate may be presented too, and is passed on, verified, for login by certificate;
the client's own `X-Client-*` and `X-Drimlab-Front` headers never pass), spreads requests
over the workers round-robin, passes the client address in `X-Forwarded-For` and the scheme
in `X-Forwarded-Proto` (uvicorn trusts them from the loopback address), streams bodies both
ways, and retries a request on the next worker when one does not answer (a stopped worker).
It is the deployment docs/shared-environment.md describes, in a test's temp folder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

from drimlab.errors import ConfigurationError
from drimlab.testing.nginx import NGINX_PROGRAM
from drimlab.testing.process import ChildProcess, ManagedPeer, port_accepts, require_program

_UPSTREAM = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")

_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid "{prefix}/nginx.pid";
error_log "{prefix}/error.log" warn;

events {{
    worker_connections 512;
}}

http {{
    access_log "{prefix}/access.log";
    client_body_temp_path "{prefix}/tmp/body";
    proxy_temp_path "{prefix}/tmp/proxy";
    fastcgi_temp_path "{prefix}/tmp/fastcgi";
    uwsgi_temp_path "{prefix}/tmp/uwsgi";
    scgi_temp_path "{prefix}/tmp/scgi";

    upstream drimlab_portal {{
{servers}    }}

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost 127.0.0.1;
        ssl_certificate "{cert_file}";
        ssl_certificate_key "{key_file}";
        ssl_protocols TLSv1.2 TLSv1.3;
{client_tls}        client_max_body_size {body_limit};

        location / {{
            proxy_pass http://drimlab_portal;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
{client_headers}            proxy_next_upstream error timeout http_502 http_503;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


class PortalFront(ManagedPeer):
    """A private nginx load-balancing HTTPS over portal workers; a context manager."""

    name = "nginx-front"

    def __init__(
        self,
        *,
        upstreams: Sequence[str],
        cert_file: Path,
        key_file: Path,
        workdir: Path | None = None,
        program: str = NGINX_PROGRAM,
        startup_timeout: float = 15.0,
        body_limit: str = "600m",
        client_ca: Path | None = None,
        front_secret: str | None = None,
    ) -> None:
        if (client_ca is None) != (front_secret is None):
            raise ConfigurationError("a client CA and the front secret go together")
        if client_ca is not None and not Path(client_ca).is_file():
            raise ConfigurationError(f"nginx client CA file not found: {client_ca}")
        self._client = (Path(client_ca).resolve(), front_secret) if client_ca else None
        if not upstreams or any(not _UPSTREAM.match(u) for u in upstreams):
            raise ConfigurationError(f"upstreams must be host:port values: {list(upstreams)}")
        for what, path in (("certificate", cert_file), ("key", key_file)):
            if not Path(path).is_file():
                raise ConfigurationError(f"nginx {what} file not found: {path}")
        self._upstreams = tuple(upstreams)
        self._files = (Path(cert_file).resolve(), Path(key_file).resolve())
        self._body_limit = body_limit
        super().__init__(workdir, startup_timeout)
        self._program = program

    def _program_path(self) -> str:
        return require_program(self._program, "nginx (Debian package `nginx`)")

    def _launch(self, program: str, port: int) -> ChildProcess:
        (self.workdir / "tmp").mkdir(exist_ok=True)
        conf = self._write_conf(port)
        error_log = self.workdir / "error.log"
        argv = [program, "-p", str(self.workdir), "-e", str(error_log), "-c", str(conf)]
        process = ChildProcess(argv, log_path=self.workdir / "nginx.out", cwd=self.workdir)
        try:
            process.wait_until(
                functools.partial(port_accepts, port), timeout=self._startup_timeout, what="nginx"
            )
        except ConfigurationError:
            process.stop()
            raise
        return process

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def _write_conf(self, port: int) -> Path:
        cert_file, key_file = self._files
        text = front_conf(
            prefix=self.workdir,
            port=port,
            upstreams=self._upstreams,
            cert_file=cert_file,
            key_file=key_file,
            body_limit=self._body_limit,
            client_ca=self._client[0] if self._client else None,
            front_secret=self._client[1] if self._client else None,
        )
        path = self.workdir / "nginx.conf"
        path.write_text(text)
        return path


def front_conf(
    *,
    prefix: Path,
    port: int,
    upstreams: Sequence[str],
    cert_file: Path,
    key_file: Path,
    body_limit: str = "600m",
    client_ca: Path | None = None,
    front_secret: str | None = None,
) -> str:
    """The nginx configuration of the front (docs/deploy.md shows the same directives).

    With `client_ca` (and the `front_secret` the portal workers know), a client certificate
    may be presented; nginx verifies it and passes it on with its verdict and the secret. In
    every case the headers a client sent under those names are replaced, never passed on.
    """
    servers = "".join(f"        server {u} max_fails=1 fail_timeout=5s;\n" for u in upstreams)
    client_tls = ""
    passed = ('""', '""', '""')
    if client_ca is not None and front_secret is not None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{32,}", front_secret):
            raise ConfigurationError("the front secret: 32 or more letters, digits, - or _")
        client_tls = (
            f'        ssl_client_certificate "{client_ca}";\n'
            "        ssl_verify_client optional;\n"
            "        ssl_verify_depth 3;\n"
        )
        passed = ("$ssl_client_verify", "$ssl_client_escaped_cert", f'"{front_secret}"')
    client_headers = "".join(
        f"            proxy_set_header {name} {value};\n"
        for name, value in zip(
            ("X-Client-Verify", "X-Client-Cert", "X-Drimlab-Front"), passed, strict=True
        )
    )
    return _CONF.format(
        client_tls=client_tls,
        client_headers=client_headers,
        prefix=prefix,
        port=port,
        servers=servers,
        cert_file=cert_file,
        key_file=key_file,
        body_limit=body_limit,
    )
