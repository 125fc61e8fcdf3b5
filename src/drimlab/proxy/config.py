"""How the recording proxy is set up: where it listens, the source it relays to, what each leg
presents and trusts, the whitelist and CRL it looks peers up in, the KOS it knows, the rules.

The proxy is a TLS server to the consumer and a TLS client to the source, so it has two
identities: `listen` (the certificate it presents to the consumer and the CA bundle it
verifies the consumer's certificate with) and `client` (the client certificate it presents
to the source and the CA bundle it verifies the source with). Everything is given as files;
nothing is taken from the environment.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from drimlab.documents.kos import Kos
from drimlab.errors import InputError
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.tls import HandshakeCallback, client_context, server_context
from drimlab.trust.whitelist import Whitelist
from drimlab.validation.assess import Selection

MIB = 1024 * 1024
DEFAULT_VALIDATION_BUFFER = 64 * MIB


@dataclass(frozen=True)
class Upstream:
    """The source's origin: scheme, host and port (requests keep their own targets)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Upstream:
        """`https://host:port` (a trailing `/` allowed); InputError naming what is wrong."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise InputError(f"upstream {url!r} must be https://host:port (or http://)")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InputError(
                f"upstream {url!r}: give the origin only; requests keep their own path"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InputError(f"upstream {url!r}: the port is not a number") from None
        return cls(parts.scheme, parts.hostname, port)

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.address}"


@dataclass(frozen=True)
class Identity:
    """A certificate chain and its key to present, and the CA bundle to verify the peer with."""

    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True)
class ProxyConfig:
    """Everything one proxy process needs (see the module docstring)."""

    upstream: Upstream
    listen: Identity
    client: Identity | None = None  # None: present no client certificate (plain upstream)
    host: str = "127.0.0.1"
    port: int = 9443
    whitelist: Whitelist | None = None
    crl: RevocationList | None = None
    kos: tuple[Kos, ...] = ()
    selection: Selection = field(default_factory=lambda: Selection.of("drim-m"))
    validation_buffer: int = DEFAULT_VALIDATION_BUFFER
    validation_workers: int = 1
    timeout: float = 300.0  # the longest the source may stay silent in an exchange
    idle_timeout: float = 75.0  # how long a kept-alive consumer connection may stay idle
    handshake_timeout: int = 10
    trust_hint: str | None = None  # what a consumer must trust to accept the proxy

    def __post_init__(self) -> None:
        if self.upstream.tls and self.client is None:
            raise InputError("an https upstream needs the client certificate, key and CA")
        if self.validation_buffer <= 0 or self.validation_workers <= 0:
            raise InputError("the validation buffer and workers must be positive")
        if self.timeout <= 0 or self.idle_timeout <= 0:
            raise InputError("timeouts must be positive")

    def server_context(self, on_failure: HandshakeCallback | None = None) -> ssl.SSLContext:
        """The TLS context facing the consumer (client certificate required)."""
        listen = self.listen
        return server_context(listen.cert, listen.key, listen.ca, on_failure=on_failure)

    def client_context(self) -> ssl.SSLContext | None:
        """The TLS context facing the source (None for a plain-HTTP upstream)."""
        if not self.upstream.tls or self.client is None:
            return None
        return client_context(self.client.cert, self.client.key, self.client.ca)
