"""What every page of the portal reaches: the store, the environment, the simulator, the jobs.

One `Portal` per process. It holds no state of its own beyond the bounded job executor: every
page asks the store, so a simulator in another process (or another portal) is seen at once.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from drimlab.config import Settings
from drimlab.facts.store import StoreStatus
from drimlab.portal.jobs import Jobs
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.faults import FaultRule
from drimlab.simulators.source import SourceApp
from drimlab.store import Store
from drimlab.store.background import create_job

if TYPE_CHECKING:
    import procrastinate

DEFAULT_UPLOAD_LIMIT = 512 * 1024 * 1024
DEFAULT_BACKGROUND_ABOVE = 16 * 1024 * 1024
QUEUE = "drimlab"  # the task queue's queue, and the name of its validation task
VALIDATE_UPLOAD = "drimlab:validate_upload"
RUN_CLIENT = "drimlab:run_client"  # a client-simulator retrieval or probe battery
EXPORT_BUNDLE = "drimlab:export_bundle"  # a run's signed evidence bundle
RESUME_RUN = "drimlab:resume_run"  # a scenario run advanced through the API


@dataclass
class SimulatorLink:
    """The server simulator the portal shows: its address and, in the same process, its app.

    `handlers` is the running simulator's handler object when `drimlab start` runs both in one
    process; the fault modes can then be switched from the page. Otherwise the portal only
    knows the address (and says the faults are set with `drimlab serve --fault`).
    """

    base_url: str
    insecure_http: bool = False
    crl_url: str | None = None
    notice: str = ""
    handlers: SourceApp | None = None

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def listening(self, timeout: float = 0.5) -> bool:
        """Whether something accepts TCP connections at the simulator's address."""
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout):
                return True
        except OSError:
            return False

    def store_status(self) -> StoreStatus | None:
        """Whether the simulator can record what it serves (known in the same process only)."""
        if self.handlers is None or self.handlers.recorder is None:
            return None
        return self.handlers.recorder.status

    @property
    def can_switch_faults(self) -> bool:
        return self.handlers is not None

    def faults(self) -> tuple[str, ...]:
        if self.handlers is None:
            return ()
        return tuple(
            rule.fault.value + (f":{rule.match}" if rule.match else "")
            for rule in self.handlers.config.faults
        )

    def set_faults(self, specs: tuple[str, ...]) -> None:
        """Replace the running simulator's faults (InputError for an unknown name)."""
        if self.handlers is None:
            return
        rules = tuple(FaultRule.parse(spec) for spec in specs)
        self.handlers.config = replace(self.handlers.config, faults=rules)


@dataclass
class Portal:
    """The portal's handles on the library (one per process)."""

    store: Store
    settings: Settings
    env: BenchEnvironment
    simulator: SimulatorLink
    jobs: Jobs = field(default_factory=Jobs)
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    origin: str = ""  # where the portal itself is reachable, once known
    accounts: bool = False  # a shared environment: logins, organisations, isolation
    cookie_secure: bool = True  # session cookies only over HTTPS (the proxy in front)
    # the task queue (procrastinate on PostgreSQL): API validations of larger inputs go there
    queue: procrastinate.App | None = None
    background_above: int = DEFAULT_BACKGROUND_ABOVE

    @property
    def uploads_dir(self) -> Path:
        return self.settings.home / "uploads"

    async def enqueue(
        self,
        task: str,
        kind: str,
        organisation_id: int | None,
        inputs: dict[str, Any],
        *,
        subject: str | None = None,
    ) -> str:
        """Hand work to the task queue: its `BackgroundJob` row first, then the job that
        names it, so any portal worker can say where it is. Returns the row's id."""
        assert self.queue is not None, "the portal runs without a task queue"
        job_id = await run_in_threadpool(
            create_job, self.store, kind, organisation_id, inputs, subject=subject
        )
        await self.queue.configure_task(task, queue=QUEUE).defer_async(job_id=job_id)
        return job_id


def portal_of(request: Request) -> Portal:
    """The Portal the application was made with."""
    found = request.app.state.portal
    assert isinstance(found, Portal)
    return found
