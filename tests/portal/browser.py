"""A real headless Chromium (Debian `chromium`) driven by Playwright, and a served test lab.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Screenshots go to
the test's folder, and to `$DRIMLAB_SCREENSHOTS` when set (docs/portal/ is made that way).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from drimlab.config import Settings
from drimlab.portal.context import SimulatorLink
from drimlab.portal.serve import RunningPortal, build_portal, portal_in_thread
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.runner import RunningServer, free_port
from drimlab.simulators.serve import SourceOptions, SourceSetup, notice, source_in_thread
from drimlab.simulators.source import SOURCE_KEY
from drimlab.store import Store, open_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]
WAIT_MS = 60_000


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Lab:
    """The served environment: server simulator over mTLS and the portal beside it."""

    store: Store
    settings: Settings
    env: BenchEnvironment
    setup: SourceSetup
    server: RunningServer
    portal: RunningPortal

    @property
    def simulator_base(self) -> str:
        # localhost: the host name on the simulator's certificate and the bench whitelist
        return f"https://localhost:{self.server.port}/dicom-web"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.portal.port}{path}"


@contextmanager
def served_lab(settings: Settings, *, accounts: bool = False) -> Iterator[Lab]:
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    with ExitStack() as stack:
        stack.callback(store.close)
        setup, server = stack.enter_context(
            source_in_thread(store, env, SourceOptions(port=free_port(), crl_port=None))
        )
        base = f"https://localhost:{server.port}/dicom-web"
        link = SimulatorLink(
            base_url=base,
            notice=notice(setup, f"https://localhost:{server.port}"),
            handlers=setup.app[SOURCE_KEY],
        )
        portal = build_portal(store, settings, link)
        portal.accounts = accounts
        running = stack.enter_context(portal_in_thread(portal, "127.0.0.1", free_port()))
        yield Lab(store, settings, env, setup, server, running)


def screenshot(page: Page, folder: Path, name: str) -> Path:
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=False)
    wanted = os.environ.get("DRIMLAB_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, Path(wanted) / target.name)
    return target
