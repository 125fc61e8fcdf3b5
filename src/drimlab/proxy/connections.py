"""The proxy's two connections: the consumer's (its TLS facts and lookups) and the source's.

`Relay` holds what every consumer connection of one proxy shares: the configuration, the
client TLS context and the validation pool. `Relay.connect` opens a connection to the source
(TCP, then TLS) and records its facts with the whitelist and CRL lookups of the source's host
and certificate; a failure is an `Ended` naming its cause (`TlsRefused` keeps the handshake's
facts: who refused and why).
"""

from __future__ import annotations

import asyncio
import ssl
import time

from drimlab.facts.relay import RelayEnd
from drimlab.facts.tls import Role, TlsFacts, plain
from drimlab.proxy.capture import Ended
from drimlab.proxy.config import ProxyConfig
from drimlab.proxy.live import ValidationPool
from drimlab.trust.enforce import add_client_lookups, add_server_lookups, failed_handshake
from drimlab.trust.peer import address, connection_facts, peer_der

READ_LIMIT = 1024 * 1024  # a stream reader pauses its socket at twice this


class SourceConnection:
    """A connection to the source, its TLS facts, and bytes read past the last response."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: TlsFacts,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.pending = b""
        self.used = False

    @property
    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def abort(self) -> None:
        self.writer.transport.abort()


class Relay:
    """What every consumer connection of one proxy shares: the setup and the validation."""

    def __init__(self, config: ProxyConfig, pool: ValidationPool) -> None:
        self.config = config
        self.pool = pool
        self.client_context = config.client_context()

    def consumer_facts(self, writer: asyncio.StreamWriter) -> TlsFacts:
        """The consumer connection's facts, with the CRL and whitelist lookups of its DN."""
        peer = address(writer.get_extra_info("peername"))
        conn = writer.get_extra_info("ssl_object")
        if not isinstance(conn, ssl.SSLObject):
            return plain(Role.SERVER, peer)
        facts = connection_facts(
            conn, Role.SERVER, peer_address=peer, trust_hint=self.config.trust_hint
        )
        config = self.config
        return add_client_lookups(facts, peer_der(conn), config.whitelist, crl=config.crl)

    async def connect(self) -> tuple[SourceConnection, float]:
        """A new connection to the source, and how long it took; Ended when it fails."""
        upstream, config = self.config.upstream, self.config
        started = time.perf_counter()
        try:
            async with asyncio.timeout(config.timeout):
                reader, writer = await asyncio.open_connection(
                    upstream.host, upstream.port, limit=READ_LIMIT
                )
        except (OSError, TimeoutError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
            raise Ended(
                RelayEnd.SOURCE_UNREACHABLE,
                f"cannot connect to the source {upstream.address}: {reason}",
                answer=502,
            ) from None
        if self.client_context is None:
            return SourceConnection(reader, writer, plain(Role.CLIENT, upstream.address)), (
                time.perf_counter() - started
            )
        try:
            async with asyncio.timeout(config.handshake_timeout):
                await writer.start_tls(self.client_context, server_hostname=upstream.host)
        except ssl.SSLError as exc:
            writer.transport.abort()
            facts = failed_handshake(
                exc, Role.CLIENT, peer_address=upstream.address, trust_hint=config.trust_hint
            )
            raise TlsRefused(facts, f"the TLS handshake with the source failed: {exc}") from None
        except (OSError, TimeoutError) as exc:
            writer.transport.abort()
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or "closed"
            raise Ended(
                RelayEnd.SOURCE_TLS_FAILED,
                f"the source ended the TLS handshake without an alert: {reason}",
                answer=502,
            ) from None
        conn = writer.get_extra_info("ssl_object")
        assert isinstance(conn, ssl.SSLObject)
        facts = connection_facts(conn, Role.CLIENT, peer_address=upstream.address)
        facts = add_server_lookups(
            facts, peer_der(conn), upstream.host, config.whitelist, crl=config.crl
        )
        return SourceConnection(reader, writer, facts), time.perf_counter() - started


class TlsRefused(Ended):
    """The handshake with the source failed: its facts say who refused and why."""

    def __init__(self, facts: TlsFacts, detail: str) -> None:
        super().__init__(RelayEnd.SOURCE_TLS_FAILED, detail, answer=502)
        self.facts = facts


def gateway_answer(status: int, detail: str) -> bytes:
    reason = {400: "Bad Request", 502: "Bad Gateway"}.get(status, "Error")
    body = f"drimlab proxy: {detail}\n".encode("utf-8", "replace")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body
