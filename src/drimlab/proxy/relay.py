"""The relay: one consumer connection, its exchanges one after the other, each relayed byte for
byte to the source and back.

For each request the relay reads the head with `dicomweb.http1.HeadReader`, sends exactly the
bytes it received to the source (on a kept-alive connection, or a new one), frames the request
body with `BodyFramer`, then reads the response head and relays the body piece by piece as it
arrives: never more than a read's worth is held, the bytes past the end of a message are kept
for the next one (keep-alive), nothing is ever re-serialised. Each piece goes to the live
validation (`LiveTap.feed`, which never blocks) and is counted and hashed as received and as
sent (`Meter`). When a side fails, the relay records how (`RelayEnd`, with the cause in
words), answers the consumer itself when the source gave nothing to relay (502), and closes
this connection; the proxy goes on serving the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import replace

from drimlab.dicomweb.http1 import (
    BodyFramer,
    EmptyMessage,
    Framing,
    HeadError,
    HeadReader,
    IncompleteHead,
    ResponseHead,
    framing_of,
    parse_request_head,
    parse_response_head,
)
from drimlab.facts.relay import RelayEnd
from drimlab.proxy.capture import KEPT_BODY, Capture, Ended, persistent
from drimlab.proxy.connections import Relay, SourceConnection, TlsRefused, gateway_answer
from drimlab.proxy.live import LiveTap
from drimlab.trust.enforce import handshake_failure

READ_SIZE = 1024 * 1024
WRITE_HIGH_WATER = 4 * 1024 * 1024


class ConsumerConnection:
    """One consumer connection: its exchanges, relayed one after the other."""

    def __init__(
        self, relay: Relay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.relay = relay
        self.config = relay.config
        self.reader = reader
        self.writer = writer
        self.tls = relay.consumer_facts(writer)
        self.pending = b""
        self.source: SourceConnection | None = None
        self._raw_request = b""
        writer.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    async def serve(self) -> None:
        """Relay exchanges until one side closes (or an exchange fails)."""
        try:
            while await self._exchange():
                pass
        finally:
            self._drop_source()
            with contextlib.suppress(Exception):
                self.writer.close()

    def _capture(self) -> Capture:
        return Capture(
            upstream=self.config.upstream.address,
            consumer_tls=self.tls,
            budget=self.config.validation_buffer,
        )

    async def _exchange(self) -> bool:
        capture = self._capture()
        tap: LiveTap | None = None
        try:
            if not await self._read_request_head(capture):
                return False
            await self._forward_request(capture)
            try:
                head, raw = await self._read_response_head(capture)
            except Ended as end:
                if not self._may_retry(capture, end):
                    raise
                # A kept-alive connection the source closed while idle: send it again, once.
                self._drop_source()
                capture.up.restart_sent()
                await self._resend_request(capture)
                head, raw = await self._read_response_head(capture)
            tap = self.relay.pool.tap(capture.request_exchange())
            await self._relay_response(capture, head, raw, tap)
        except Ended as end:
            capture.ended(end)
            if isinstance(end, TlsRefused):
                capture.source_tls = end.facts
            await self._after_failure(end)
        capture.finished_at = time.perf_counter()
        if tap is not None:
            capture.behind_at = tap.behind_at
            tap.finish(capture.exchange())
        else:
            self.relay.pool.judge(capture.exchange())
        return self._keep_alive(capture)

    def _keep_alive(self, capture: Capture) -> bool:
        request, response = capture.request, capture.response
        if capture.end is not RelayEnd.COMPLETE or request is None or response is None:
            return False
        if capture.framing is Framing.CLOSE or response.status == 101:
            self._drop_source()
            return False
        if not persistent(response):
            self._drop_source()
        return persistent(request) and persistent(response)

    async def _after_failure(self, end: Ended) -> None:
        self._drop_source()
        if end.answer is not None and not self.writer.is_closing():
            with contextlib.suppress(Exception):
                self.writer.write(gateway_answer(end.answer, end.detail))
                async with asyncio.timeout(5):
                    await self.writer.drain()
        if end.end is RelayEnd.CONSUMER_CLOSED:
            self.writer.transport.abort()

    def _drop_source(self) -> None:
        if self.source is not None:
            self.source.abort()
            self.source = None

    # -- the request ------------------------------------------------------------------------

    async def _consumer_read(self, timeout: float) -> bytes:
        async with asyncio.timeout(timeout):
            return await self.reader.read(READ_SIZE)

    async def _read_request_head(self, capture: Capture) -> bool:
        """Read the next request head; False when the consumer closed between requests."""
        reader = HeadReader("request")
        data, self.pending = self.pending, b""
        seen = len(data)
        try:
            while not (data and reader.feed(data)):
                try:
                    data = await self._consumer_read(
                        self.config.timeout if seen else self.config.idle_timeout
                    )
                except (TimeoutError, OSError, ssl.SSLError) as exc:
                    if not seen:
                        return False
                    raise Ended(
                        RelayEnd.CONSUMER_CLOSED,
                        f"the consumer stopped inside its request head after {seen} bytes "
                        f"({type(exc).__name__})",
                    ) from None
                seen += len(data)
                if not data:
                    reader.close()
        except EmptyMessage:
            return False
        except IncompleteHead:
            raise Ended(
                RelayEnd.CONSUMER_CLOSED,
                f"the consumer closed the connection inside its request head after {seen} bytes",
            ) from None
        except HeadError as exc:
            raise Ended(
                RelayEnd.CONSUMER_NOT_HTTP,
                f"the consumer's bytes are not an HTTP request: {exc}",
                answer=400,
            ) from None
        try:
            capture.request = parse_request_head(reader.head)
        except HeadError as exc:
            raise Ended(
                RelayEnd.CONSUMER_NOT_HTTP, f"not an HTTP request: {exc}", answer=400
            ) from None
        capture.up.got(reader.head)
        self._raw_request = reader.head
        self.pending = reader.rest
        return True

    async def _forward_request(self, capture: Capture) -> None:
        """Send the request head and body to the source exactly as received."""
        head = capture.request
        assert head is not None
        source = await self._source(capture)
        self._send_source(capture, source, self._raw_request)
        framer = BodyFramer(*framing_of(head))
        data, self.pending = self.pending, b""
        while True:
            if data:
                body, past = framer.feed(data)
                if body:
                    piece = data if len(body) == len(data) else bytes(body)
                    capture.up.got(piece)
                    capture.keep(capture.request_body, piece)
                    self._send_source(capture, source, piece)
                if past:
                    self.pending = bytes(past)
            if framer.ended:
                break
            try:
                data = await self._consumer_read(self.config.timeout)
            except (TimeoutError, OSError, ssl.SSLError) as exc:
                raise Ended(
                    RelayEnd.CONSUMER_CLOSED,
                    f"the consumer stopped inside its request body ({type(exc).__name__})",
                ) from None
            if not data:
                framer.close()
                raise Ended(
                    RelayEnd.CONSUMER_CLOSED,
                    f"the consumer closed the connection inside its request body after "
                    f"{framer.size} bytes",
                )
        capture.request_framing = tuple(framer.problems)
        try:
            async with asyncio.timeout(self.config.timeout):
                await source.writer.drain()
        except (TimeoutError, OSError) as exc:
            raise Ended(
                RelayEnd.SOURCE_CLOSED,
                f"the source closed the connection while receiving the request: {exc}",
                answer=502,
            ) from None
        capture.sent_at = time.perf_counter()

    def _may_retry(self, capture: Capture, end: Ended) -> bool:
        """A request sent on a reused connection that closed before answering goes again."""
        return (
            end.end is RelayEnd.SOURCE_CLOSED
            and capture.connect_seconds is None
            and capture.down.received == 0
            and capture.up.received - len(self._raw_request) == len(capture.request_body)
            and len(capture.request_body) < KEPT_BODY
        )

    async def _resend_request(self, capture: Capture) -> None:
        source = await self._source(capture)
        self._send_source(capture, source, self._raw_request)
        if capture.request_body:
            self._send_source(capture, source, bytes(capture.request_body))
        try:
            async with asyncio.timeout(self.config.timeout):
                await source.writer.drain()
        except (TimeoutError, OSError) as exc:
            raise Ended(
                RelayEnd.SOURCE_CLOSED,
                f"the source closed the connection while receiving the request: {exc}",
                answer=502,
            ) from None
        capture.sent_at = time.perf_counter()

    def _send_source(
        self, capture: Capture, source: SourceConnection, data: bytes | memoryview
    ) -> None:
        source.writer.write(data)
        capture.up.put(data)

    async def _source(self, capture: Capture) -> SourceConnection:
        source = self.source
        if source is not None and not source.usable:
            self._drop_source()
            source = None
        if source is None:
            source, seconds = await self.relay.connect()
            capture.connect_seconds = seconds
            self.source = source
        capture.source_tls = source.tls
        return source

    # -- the response -----------------------------------------------------------------------

    async def _source_read(self, source: SourceConnection, capture: Capture, what: str) -> bytes:
        try:
            async with asyncio.timeout(self.config.timeout):
                return await source.reader.read(READ_SIZE)
        except TimeoutError:
            detail = f"the source sent nothing for {self.config.timeout:g} s {what}"
        except ssl.SSLError as exc:
            if capture.response is None and not source.used:
                # TLS 1.3: a server refusing the client certificate says so after the handshake
                facts = replace(source.tls, handshake=handshake_failure(exc))
                raise TlsRefused(facts, f"the source refused the connection: {exc}") from None
            detail = f"TLS error from the source {what}: {exc.reason or exc}"
        except OSError as exc:
            detail = f"the source reset the connection {what}: {exc.strerror or exc}"
        raise Ended(
            RelayEnd.SOURCE_CLOSED, detail, answer=502 if capture.response is None else None
        )

    async def _read_response_head(self, capture: Capture) -> tuple[ResponseHead, bytes]:
        """The final response head (interim 1xx heads are relayed on the way)."""
        source = self.source
        assert source is not None
        while True:
            reader = HeadReader("response")
            data, source.pending = source.pending, b""
            try:
                while not (data and reader.feed(data)):
                    data = await self._source_read(source, capture, "instead of a response")
                    if not data:
                        reader.close()
            except EmptyMessage:
                raise Ended(
                    RelayEnd.SOURCE_CLOSED,
                    "the source closed the connection without a response",
                    answer=502,
                ) from None
            except IncompleteHead as exc:
                raise Ended(
                    RelayEnd.SOURCE_CLOSED,
                    f"the source closed the connection inside its response head: {exc}",
                    answer=502,
                ) from None
            except HeadError as exc:
                raise Ended(
                    RelayEnd.SOURCE_NOT_HTTP, f"not an HTTP response: {exc}", answer=502
                ) from None
            try:
                head = parse_response_head(reader.head)
            except HeadError as exc:
                raise Ended(
                    RelayEnd.SOURCE_NOT_HTTP, f"not an HTTP response: {exc}", answer=502
                ) from None
            capture.first_byte_at = capture.first_byte_at or time.perf_counter()
            capture.down.got(reader.head)
            source.pending = reader.rest
            source.used = True
            if 100 <= head.status < 200 and head.status != 101:
                await self._to_consumer(capture, reader.head)
                continue
            capture.response = head
            return head, reader.head

    async def _relay_response(
        self, capture: Capture, head: ResponseHead, raw: bytes, tap: LiveTap
    ) -> None:
        request = capture.request
        assert request is not None and self.source is not None
        source = self.source
        framing, length = framing_of(head, request.method)
        capture.framing = framing
        capture.chunked = framing is Framing.CHUNKED
        tap.headers(head.status, head.headers, encoded=capture.chunked, problems=head.problems)
        keep = head.status not in (200, 206)
        await self._to_consumer(capture, raw)
        framer = BodyFramer(framing, length)
        data, source.pending = source.pending, b""
        while True:
            if data:
                body, past = framer.feed(data)
                if body:
                    piece: bytes | memoryview = data if len(body) == len(data) else body
                    capture.down.got(piece)
                    capture.body_bytes += len(piece)
                    tap.feed(piece)
                    if keep:
                        capture.keep(capture.response_body, piece)
                    await self._to_consumer(capture, piece)
                if past:
                    source.pending = bytes(past)
            if framer.ended:
                break
            data = await self._source_read(source, capture, f"after {framer.size} body bytes")
            if not data:
                framer.close()
                if not framer.complete and not framer.broken:
                    raise Ended(RelayEnd.SOURCE_CLOSED, _cut(framer))

    async def _to_consumer(self, capture: Capture, data: bytes | memoryview) -> None:
        if self.writer.is_closing():
            raise Ended(RelayEnd.CONSUMER_CLOSED, _gone(capture))
        self.writer.write(data)
        capture.down.put(data)
        try:
            await self.writer.drain()
        except (OSError, ssl.SSLError) as exc:
            raise Ended(RelayEnd.CONSUMER_CLOSED, f"{_gone(capture)} ({exc})") from None


def _gone(capture: Capture) -> str:
    return (
        f"the consumer closed the connection after {capture.down.sent} of the response's "
        f"{capture.down.received} bytes received so far"
    )


def _cut(framer: BodyFramer) -> str:
    if framer.framing is Framing.CONTENT_LENGTH:
        return (
            f"the source closed the connection after {framer.size} of the {framer.length} body "
            "bytes its Content-Length announced"
        )
    return (
        f"the source closed the connection after {framer.size} body bytes, before the last "
        "chunk of its chunked body"
    )
