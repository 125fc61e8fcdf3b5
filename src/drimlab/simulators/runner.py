"""Running an aiohttp application on a real socket: in the foreground (`drimlab serve`) or in
a background thread with its own event loop (tests, benchmarks, scenarios).
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web

from drimlab.errors import ConfigurationError
from drimlab.trust.tls import serve_tls


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    """Where a started server listens."""

    host: str
    port: int
    tls: bool

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


class Listener:
    """An application listening on one address, plain or over TLS."""

    def __init__(self, runner: web.AppRunner, tls_server: asyncio.Server | None) -> None:
        self.runner = runner
        self.tls_server = tls_server

    async def stop(self) -> None:
        if self.tls_server is not None:
            self.tls_server.close()
            await self.tls_server.wait_closed()
        await self.runner.cleanup()


async def listen(
    app: web.Application, host: str, port: int, ssl_context: ssl.SSLContext | None
) -> Listener:
    """Start serving `app`; under TLS, refused handshakes send their alert (see trust.tls)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        if ssl_context is None:
            await web.TCPSite(runner, host, port, backlog=256).start()
            return Listener(runner, None)
        server = runner.server
        assert server is not None
        return Listener(runner, await serve_tls(server, host, port, ssl_context))
    except OSError as exc:
        await runner.cleanup()
        reason = os.strerror(exc.errno) if exc.errno else exc.strerror
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}") from exc
    except OverflowError:  # a port outside 0-65535
        await runner.cleanup()
        raise ConfigurationError(f"cannot listen on {host}:{port}: not a TCP port") from None


@contextmanager
def serve_in_thread(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> Iterator[RunningServer]:
    """Serve `app` from a background thread until the block ends."""
    port = port or free_port(host)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []
    runner_box: list[Listener] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            runner_box.append(loop.run_until_complete(listen(app, host, port, ssl_context)))
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner_box[0].stop())
        # let closing TLS connections finish their close callbacks before the loop goes away
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()

    thread = threading.Thread(target=main, name=f"drimlab-server-{port}", daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        thread.join(5)
        raise failure[0]
    try:
        yield RunningServer(host, port, ssl_context is not None)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


async def serve_until_cancelled(
    listeners: list[tuple[web.Application, str, int, ssl.SSLContext | None]],
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Serve every (app, host, port, tls) until the task is cancelled (Ctrl-C), then stop.

    `on_listening` runs once every socket is bound, so nothing is announced before then.
    """
    started: list[Listener] = []
    try:
        for app, host, port, context in listeners:
            started.append(await listen(app, host, port, context))
        if on_listening is not None:
            on_listening()
        await asyncio.Event().wait()
    finally:
        for listener in reversed(started):
            await listener.stop()
