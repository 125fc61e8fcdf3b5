"""TLS contexts for mutual TLS between DRIMBoxes, and a recorder of failed handshakes.

Cipher policy: TLS 1.2 is the minimum; for 1.2 only ECDHE key exchange with AEAD ciphers
(AES-GCM, CHACHA20-POLY1305) is offered, for 1.3 OpenSSL's default suites (all AEAD).
Compression and renegotiation are off. Trust comes only from the files passed in: the
contexts never load the system store nor read `SSL_CERT_FILE` / `SSL_CERT_DIR` /
`REQUESTS_CA_BUNDLE`, so the environment cannot widen what a DRIMBox trusts.

Handshake refusals (no certificate, unknown CA, expired, TLS 1.1...) happen inside OpenSSL
before any application code runs, and asyncio drops them silently (an `ssl.SSLError` is an
`OSError`, which its transport only logs in debug mode). `server_context(on_failure=...)`
installs an `ssl.SSLObject` subclass whose `do_handshake` hands every such error, with the
peer's address when `serve_tls` serves the connection, to a callback before re-raising it, so
a server can record each refusal as the facts of that connection.

asyncio also aborts a failed handshake without sending the alert OpenSSL prepared, so the
peer sees a bare EOF instead of `protocol_version` or `certificate_expired`. `serve_tls`
serves a protocol factory (an aiohttp `runner.server`) over TLS with a protocol that flushes
that alert first, as a DRIMBox's nginx or Java stack would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from asyncio import sslproto
from collections.abc import Callable
from pathlib import Path

from drimlab.errors import InputError
from drimlab.policy import ALLOWED_CIPHERS, TLS12_CIPHERS, TLS13_CIPHERS
from drimlab.trust.presented import capture_presented_chains, take_presented_chain

__all__ = ["ALLOWED_CIPHERS", "TLS13_CIPHERS", "client_context", "serve_tls", "server_context"]
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

#: (the error, the peer's `host:port`, the DER chain it presented: empty when none or unknown)
HandshakeCallback = Callable[[ssl.SSLError, str | None, tuple[bytes, ...]], None]
PEER_ATTRIBUTE = "drimlab_peer_address"
PathLike = str | Path


def _harden(context: ssl.SSLContext) -> None:
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(":".join(TLS12_CIPHERS))
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE


def _load_trust(context: ssl.SSLContext, ca: PathLike) -> None:
    try:
        context.load_verify_locations(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load CA certificates from {ca}: {exc}") from None


def _load_identity(context: ssl.SSLContext, cert: PathLike, key: PathLike) -> None:
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load certificate {cert} with key {key}: {exc}") from None


def server_context(
    cert: PathLike,
    key: PathLike,
    client_ca: PathLike,
    *,
    require_client_cert: bool = True,
    on_failure: HandshakeCallback | None = None,
) -> ssl.SSLContext:
    """A server context presenting `cert` and verifying client certificates against `client_ca`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _harden(context)
    _load_identity(context, cert, key)
    _load_trust(context, client_ca)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    if on_failure is not None:
        context.sslobject_class = _recording_sslobject(on_failure)
        capture_presented_chains(context)  # a refused client's chain is recorded too
    return context


def client_context(
    cert: PathLike | None,
    key: PathLike | None,
    ca: PathLike,
    *,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    """A client context presenting `cert` (if any) and trusting only the CAs in `ca`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _harden(context)
    _load_trust(context, ca)
    if cert is not None and key is not None:
        _load_identity(context, cert, key)
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _recording_sslobject(on_failure: HandshakeCallback) -> type[ssl.SSLObject]:
    """An SSLObject class that reports a failed handshake to `on_failure`, then re-raises."""

    class RecordingSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            try:
                super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLError as exc:
                chain = take_presented_chain(self)
                on_failure(exc, getattr(self, PEER_ATTRIBUTE, None), chain)
                raise
            take_presented_chain(self)  # accepted: the chain is read from the connection

    return RecordingSSLObject


class _AlertingSSLProtocol(sslproto.SSLProtocol):
    """asyncio's TLS protocol, but a refused handshake sends its alert before closing."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            # read back by the recording SSLObject when the handshake fails
            setattr(self._sslobj, PEER_ATTRIBUTE, f"{peer[0]}:{peer[1]}")  # type: ignore[attr-defined]
        super().connection_made(transport)

    def _on_handshake_complete(self, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None:
            with contextlib.suppress(Exception):
                self._process_outgoing()  # type: ignore[attr-defined]
        super()._on_handshake_complete(handshake_exc)


async def serve_tls(
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: str,
    port: int,
    context: ssl.SSLContext,
    *,
    handshake_timeout: int = 10,
) -> asyncio.Server:
    """Listen on host:port, wrap each connection in TLS with `context`, then `protocol_factory`.

    For aiohttp: `await runner.setup()`, then `await serve_tls(runner.server, ...)`; close the
    returned server before `runner.cleanup()`.
    """
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.BaseProtocol:
        return _AlertingSSLProtocol(
            loop,
            protocol_factory(),
            context,
            None,  # type: ignore[arg-type]  # no waiter: nobody awaits the handshake here
            server_side=True,
            ssl_handshake_timeout=handshake_timeout,
        )

    return await loop.create_server(factory, host, port)
