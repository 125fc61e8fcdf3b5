"""Assembling the recording proxy: the TLS listener, the relay, the live validation, the store.

`RecordingProxy` wires the pieces for one process: a TLS server (`trust.tls.serve_tls`, so a
refused handshake sends its alert and is recorded as an exchange of its own, repeats from one
peer aggregated as the server simulator does: `simulators.noise`), a `Relay` for
every consumer connection, the `ValidationPool` and the `ProxyRecorder`. `drimlab proxy` runs
it in the foreground (`serve_until_cancelled`); `proxy_in_thread` runs it in the background for
tests, benchmarks and scenarios.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from drimlab.errors import ConfigurationError
from drimlab.facts.tls import TlsFacts
from drimlab.proxy.config import ProxyConfig
from drimlab.proxy.connections import READ_LIMIT, Relay
from drimlab.proxy.live import ValidationPool
from drimlab.proxy.recording import ExchangeKos, ProxyRecorder, RecordedSink
from drimlab.proxy.relay import ConsumerConnection
from drimlab.simulators.noise import NoiseAggregator
from drimlab.store import Store
from drimlab.trust.enforce import HandshakeRefusals
from drimlab.trust.tls import serve_tls

NOISE_TICK_SECONDS = 5.0


class RecordingProxy:
    """One proxy: listener, relay, live validation and recorder."""

    def __init__(
        self,
        config: ProxyConfig,
        store: Store | None,
        *,
        on_recorded: RecordedSink | None = None,
        keep: bool = True,
    ) -> None:
        self.config = config
        self.recorder = ProxyRecorder(store, on_recorded=on_recorded, keep=keep)
        self.pool = ValidationPool(
            config.selection,
            kos_for=ExchangeKos(config.kos, store),
            on_report=self.recorder.report,
            on_failure=self.recorder.failure,
            budget=config.validation_buffer,
            workers=config.validation_workers,
        )
        self.relay = Relay(config, self.pool)
        # a flood of bad handshakes from one peer is a few exchanges, the last with the count
        self.noise = NoiseAggregator(self.pool.judge)
        refusals = HandshakeRefusals(sink=self._refused, trust_hint=config.trust_hint)
        self.context = config.server_context(on_failure=refusals.record)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None

    def _refused(self, facts: TlsFacts) -> None:
        handshake = facts.handshake
        host = (facts.peer_address or "?").rsplit(":", 1)[0]
        reason = handshake.reason if handshake is not None else ""
        self.noise.add((host, f"handshake-refused:{reason}"), self.recorder.refusal_exchange(facts))

    async def _tick(self) -> None:
        """Record the aggregated refusals of the windows that have ended, every few seconds."""
        while True:
            await asyncio.sleep(NOISE_TICK_SECONDS)
            self.noise.tick()

    def _protocol(self) -> asyncio.BaseProtocol:
        reader = asyncio.StreamReader(limit=READ_LIMIT)
        return asyncio.StreamReaderProtocol(reader, self._connected)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await ConsumerConnection(self.relay, reader, writer).serve()
        finally:
            if task is not None:
                self._connections.discard(task)

    async def start(self) -> None:
        """Listen (ConfigurationError when the address cannot be bound)."""
        config = self.config
        try:
            self._server = await serve_tls(
                self._protocol,
                config.host,
                config.port,
                self.context,
                handshake_timeout=config.handshake_timeout,
            )
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror}"
            ) from exc
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Stop listening and end the connections in flight."""
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()

    def close(self) -> None:
        """Validate and store what is still queued (after `stop`), aggregated refusals too."""
        self.noise.flush()
        self.pool.close()
        self.recorder.close()


async def serve_until_cancelled(
    proxy: RecordingProxy, *, listening: Callable[[], None] | None = None
) -> None:
    """Serve until the task is cancelled (Ctrl-C), then stop; `listening` once it listens."""
    await proxy.start()
    if listening is not None:
        listening()
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.stop()


@dataclass(frozen=True)
class RunningProxy:
    """A proxy serving in the background: where it listens, and what it recorded."""

    proxy: RecordingProxy
    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def recorder(self) -> ProxyRecorder:
        return self.proxy.recorder


@contextmanager
def proxy_in_thread(
    config: ProxyConfig, store: Store | None, *, on_recorded: RecordedSink | None = None
) -> Iterator[RunningProxy]:
    """Run a proxy on its own event loop in a background thread until the block ends."""
    proxy = RecordingProxy(config, store, on_recorded=on_recorded)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(proxy.start())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(proxy.stop())
        loop.run_until_complete(asyncio.sleep(0.05))  # let TLS close callbacks run
        loop.close()

    thread = threading.Thread(target=main, name=f"drimlab-proxy-{config.port}", daemon=True)
    thread.start()
    started.wait(30)
    try:
        if failure:
            thread.join(5)
            raise failure[0]
        yield RunningProxy(proxy, config.host, config.port)
    finally:
        if not failure:
            loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        proxy.close()
