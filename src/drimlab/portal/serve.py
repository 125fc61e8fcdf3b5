"""Serving the portal with uvicorn: in a background thread beside the server simulator
(`drimlab start`), or in the foreground (`drimlab portal`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from drimlab.config import Settings
from drimlab.errors import ConfigurationError
from drimlab.portal.app import create_app
from drimlab.portal.context import Portal, SimulatorLink
from drimlab.simulators.environment import BenchEnvironment
from drimlab.store import Store

DEFAULT_PORT = 8000
STARTUP_SECONDS = 30.0


def build_portal(
    store: Store, settings: Settings, simulator: SimulatorLink, *, prepare_dataset: bool = True
) -> Portal:
    """The Portal over a store: the environment prepared (PKI, whitelist, token issuer)."""
    env = BenchEnvironment.prepare(store, settings, dataset=prepare_dataset)
    return Portal(store=store, settings=settings, env=env, simulator=simulator)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )


@dataclass(frozen=True)
class RunningPortal:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@contextmanager
def portal_in_thread(portal: Portal, host: str, port: int) -> Iterator[RunningPortal]:
    """Serve the portal from a background thread until the block ends."""
    if not port_is_free(host, port):
        raise ConfigurationError(f"cannot start the portal: {host}:{port} is in use")
    portal.origin = f"http://{host}:{port}"
    server = uvicorn.Server(config(create_app(portal), host, port))
    thread = threading.Thread(target=server.run, name=f"drimlab-portal-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        raise ConfigurationError(f"cannot start the portal on {host}:{port}")
    try:
        yield RunningPortal(host, port)
    finally:
        server.should_exit = True
        thread.join(15)


def serve_foreground(portal: Portal, host: str, port: int) -> None:
    """Serve the portal until Ctrl-C (uvicorn handles the signals)."""
    portal.origin = f"http://{host}:{port}"
    uvicorn.Server(config(create_app(portal), host, port)).run()
