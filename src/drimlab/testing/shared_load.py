"""A bounded load on a shared environment of real processes, for a test and a benchmark.

    with LoadedEnvironment(workdir, database_url, plan, request_body, portal_workers=2) as env:
        result = env.run()

Started as deployed (docs/deploy.md): the server simulator (`drimlab serve`), portal/API
workers (`drimlab portal --accounts --task-queue`), a task worker (`drimlab worker`) and
nginx in front of the portal workers, on the PostgreSQL store `database_url` names and the
shared data directory `<workdir>/home`. `plan.organisations` vendors each get their own
client certificate from the test PKI (signed into the bench whitelist) and their identity;
at once, each vendor makes `plan.retrievals` concurrent DICOMweb series retrievals over
mTLS, `plan.browsers` logged-in users browse pages and `plan.submitters` submit validations
through the API with personal tokens. Then every stored server exchange's organisation is
checked against the certificate that made it. Children inherit DRIMLAB_HOME and
DRIMLAB_DATABASE_URL, which the environment sets in os.environ while it runs.
"""

from __future__ import annotations

import functools
import os
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import ExplicitVRLittleEndian
from sqlalchemy import text

from drimlab.config import Settings
from drimlab.datasets.catalog import exam_series, list_exams
from drimlab.domain import KOS_HEADER
from drimlab.simulators.environment import SOURCE_CERT, BenchEnvironment
from drimlab.store import accounts, open_store
from drimlab.testing.nginx_front import PortalFront
from drimlab.testing.process import ChildProcess, free_port, port_accepts
from drimlab.trust.pki import write_file
from drimlab.trust.whitelist_sign import bench_whitelist

DRIMLAB = str(Path(sys.executable).parent / "drimlab")
PASSWORD = "a long load-test password"
PAGES = ("/", "/server", "/validate", "/scenarios", "/account")
STARTUP_SECONDS = 300.0


@dataclass(frozen=True)
class LoadPlan:
    organisations: int = 20
    retrievals: int = 5  # concurrent, per organisation
    browsers: int = 10
    submitters: int = 5
    pages_each: int = 20  # pages one browser reads
    submissions_each: int = 8  # validations one submitter posts


@dataclass
class LoadResult:
    errors: list[str] = field(default_factory=list)
    misattributed: list[str] = field(default_factory=list)
    lost: int = 0
    exchanges: int = 0
    retrieval_seconds: list[float] = field(default_factory=list)
    page_seconds: list[float] = field(default_factory=list)
    api_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.retrieval_seconds) + len(self.page_seconds) + len(self.api_seconds)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _vendor(index: int) -> tuple[str, str, str]:
    """(organisation name, certificate name, certificate host) of vendor `index`."""
    return f"Vendor {index:02d}", f"vendor-{index:02d}", f"consumer.vendor-{index:02d}.test"


class LoadedEnvironment:
    """The processes of a shared environment, their accounts and certificates; a context manager."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        plan: LoadPlan,
        request_body: bytes,
        *,
        portal_workers: int = 1,
    ) -> None:
        self.workdir, self.plan, self.body = workdir, plan, request_body
        self.portal_workers = portal_workers
        self.settings = Settings(home=workdir / "home", database_url=database_url)
        self._processes: list[ChildProcess] = []
        self._front: PortalFront | None = None
        self._saved_env: dict[str, str | None] = {}
        self.subjects: dict[str, int] = {}  # certificate subject -> organisation id
        self.tokens: list[str] = []
        self.logins: list[str] = []

    def __enter__(self) -> LoadedEnvironment:
        for name, value in (
            ("DRIMLAB_HOME", str(self.settings.home)),
            ("DRIMLAB_DATABASE_URL", self.settings.database_url),
        ):
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        try:
            self._prepare()
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._front is not None:
            self._front.stop()
        for process in self._processes:
            process.stop()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _prepare(self) -> None:
        store = open_store(self.settings)
        try:
            env = BenchEnvironment.prepare(store, self.settings)
            self.pki = env.pki
            self.issuer = env.issuer
            names = []
            for index in range(self.plan.organisations):
                organisation, cert, host = _vendor(index)
                if not any(e.name == cert for e in self.pki.entries):
                    self.pki.issue(cert, host, ou=f"3{index + 1:014d}", organisation=organisation)
                names.append(cert)
                row = accounts.create_organisation(store, organisation, (host,))
                self.subjects[self.pki.entry(cert).subject] = row.id
            whitelist = bench_whitelist(self.pki, ("source", "consumer", *names))
            write_file(self.settings.pki_dir / "whitelist.xml", whitelist, mode=0o644)
            for index in range(self.plan.browsers):
                login = f"browser{index:02d}"
                accounts.create_user(
                    store, login, PASSWORD, "vendor", _vendor(index % self.plan.organisations)[0]
                )
                self.logins.append(login)
            for index in range(self.plan.submitters):
                account = accounts.create_user(
                    store,
                    f"submitter{index:02d}",
                    PASSWORD,
                    "vendor",
                    _vendor(index % self.plan.organisations)[0],
                )
                self.tokens.append(accounts.create_api_token(store, account, "load")[0])
            exam = list_exams(store)[0]
            assert exam.kos is not None
            series = exam_series(store, exam.name)[0]
            self.target = (exam.study_instance_uid, series.series_instance_uid)
            self.kos_uid = exam.kos.sop_instance_uid
            self.instances = len(series.instances)
        finally:
            store.close()

    def _started(self, argv: list[str], port: int, log: str) -> None:
        process = ChildProcess(argv, log_path=self.workdir / log, cwd=self.workdir)
        self._processes.append(process)
        process.wait_until(
            functools.partial(port_accepts, port), timeout=STARTUP_SECONDS, what=argv[1]
        )

    def _start(self) -> None:
        port = free_port()
        self._started([DRIMLAB, "serve", "--port", str(port), "--crl-port", "0"], port, "serve.log")
        self.simulator = f"https://localhost:{port}/dicom-web"
        upstreams = []
        for index in range(self.portal_workers):
            port = free_port()
            argv = [DRIMLAB, "portal", "--accounts", "--task-queue", "--port", str(port)]
            self._started([*argv, "--simulator-url", self.simulator], port, f"portal-{index}.log")
            upstreams.append(f"127.0.0.1:{port}")
        worker = ChildProcess(
            [DRIMLAB, "worker"], log_path=self.workdir / "worker.log", cwd=self.workdir
        )
        self._processes.append(worker)
        self._front = PortalFront(
            upstreams=upstreams,
            cert_file=self.pki.chain_path(SOURCE_CERT),
            key_file=self.pki.key_path(SOURCE_CERT),
            workdir=self.workdir / "nginx",
        )
        (self.workdir / "nginx").mkdir(exist_ok=True)
        self._front.start()

    # --- the load --------------------------------------------------------------------------

    def run(self) -> LoadResult:
        result = LoadResult()
        lock = threading.Lock()
        browsers = [self._logged_in(login, result, lock) for login in self.logins]
        jobs: list[Callable[[], None]] = []
        for index in range(self.plan.organisations):
            cert = _vendor(index)[1]
            jobs += [functools.partial(self._retrieve, cert, result, lock)] * self.plan.retrievals
        jobs += [functools.partial(self._browse, c, result, lock) for c in browsers if c]
        jobs += [functools.partial(self._submit, t, result, lock) for t in self.tokens]
        threads = [threading.Thread(target=job) for job in jobs]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result.wall_seconds = time.perf_counter() - started
        for client in browsers:
            if client is not None:
                client.close()
        self._check_attribution(result, self.plan.organisations * self.plan.retrievals)
        return result

    def _client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        assert self._front is not None
        return httpx.Client(
            base_url=self._front.url,
            verify=ssl.create_default_context(cafile=str(self.pki.bundle_path)),
            trust_env=False,
            timeout=300,
            headers=headers,
        )

    def _logged_in(
        self, login: str, result: LoadResult, lock: threading.Lock
    ) -> httpx.Client | None:
        client = self._client()
        form = client.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        data = {"login": login, "password": PASSWORD, "csrf": found.group(1) if found else ""}
        answer = client.post("/login", data=data, follow_redirects=True)
        if answer.status_code != 200 or 'id="who"' not in answer.text:
            with lock:
                result.errors.append(f"login {login}: {answer.status_code}")
            client.close()
            return None
        return client

    def _browse(self, client: httpx.Client, result: LoadResult, lock: threading.Lock) -> None:
        for number in range(self.plan.pages_each):
            path = PAGES[number % len(PAGES)]
            started = time.perf_counter()
            try:
                status = client.get(path).status_code
            except httpx.HTTPError as error:
                status, path = 0, f"{path} ({error})"
            with lock:
                result.page_seconds.append(time.perf_counter() - started)
                if status != 200:
                    result.errors.append(f"page {path}: {status}")

    def _submit(self, token: str, result: LoadResult, lock: threading.Lock) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/http"}
        with self._client(headers) as client:
            for _ in range(self.plan.submissions_each):
                started = time.perf_counter()
                try:
                    answer = client.post("/api/validations?validator=request", content=self.body)
                    status = answer.status_code
                    if status == 201:
                        status = client.get(answer.headers["location"]).status_code
                except httpx.HTTPError as error:
                    status = 0
                    with lock:
                        result.errors.append(f"api: {error}")
                with lock:
                    result.api_seconds.append(time.perf_counter() - started)
                    if status not in (200, 201):
                        result.errors.append(f"api validation: {status}")

    def _retrieve(self, cert: str, result: LoadResult, lock: threading.Lock) -> None:
        started = time.perf_counter()
        problem = ""
        try:
            with requests.Session() as session:
                session.trust_env = False
                session.verify = str(self.pki.bundle_path)
                session.cert = (str(self.pki.chain_path(cert)), str(self.pki.key_path(cert)))
                client = DICOMwebClient(
                    self.simulator,
                    session=session,
                    headers={
                        "Authorization": f"Bearer {self.issuer.issue()}",
                        KOS_HEADER: self.kos_uid,
                    },
                )
                got = client.retrieve_series(
                    *self.target, media_types=(("application/dicom", ExplicitVRLittleEndian),)
                )
                if len(got) != self.instances:
                    problem = f"retrieval by {cert}: {len(got)} of {self.instances} instances"
        except Exception as error:  # every failure of a retrieval is counted
            problem = f"retrieval by {cert}: {type(error).__name__}: {error}"[:300]
        with lock:
            result.retrieval_seconds.append(time.perf_counter() - started)
            if problem:
                result.errors.append(problem)

    def _check_attribution(self, result: LoadResult, expected: int) -> None:
        """Every server exchange stored, under the organisation of the certificate that made it."""
        store = open_store(self.settings)
        rows: list[Any] = []
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the simulator records after it has answered
                with store.session() as session:
                    rows = list(
                        session.execute(
                            text(  # plain SQL: the ORM models stay inside drimlab.store
                                "SELECT id, client_subject, organisation_id FROM exchanges"
                                " WHERE origin = 'server'"
                            )
                        )
                    )
                if len(rows) >= expected:
                    break
                time.sleep(0.2)
        finally:
            store.close()
        result.exchanges = len(rows)
        result.lost = max(0, expected - len(rows))
        for exchange_id, subject, organisation_id in rows:
            if self.subjects.get(subject or "") != organisation_id or organisation_id is None:
                result.misattributed.append(f"{exchange_id}: {subject} -> {organisation_id}")
