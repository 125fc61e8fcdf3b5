"""A private PostgreSQL server for tests, launched by hand in a temp directory.

    with PostgresServer() as pg:
        settings = Settings(home=home, database_url=pg.url)
        other = pg.create_database("scratch")  # a fresh, empty database's URL

`initdb` makes a cluster in the server's own folder (trust authentication, C locale, no
fsync: throwaway data); `postgres` runs in the foreground on a free loopback port with its
unix socket in that folder, so it never touches a system cluster. PostgreSQL refuses to run
as root: a root caller runs both programs as the `postgres` system user (made by the Debian
package), which then owns the folder.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from drimlab.errors import ConfigurationError
from drimlab.testing.process import ChildProcess, ManagedPeer

POSTGRES_INSTALL_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "drimlab"
_SYSTEM_USER = "postgres"
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SETTINGS = {
    # Test data is thrown away: durability only costs time.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "50",
}


def find_bindir(install_root: Path = POSTGRES_INSTALL_ROOT) -> Path:
    """The newest installed PostgreSQL's bin folder (Debian layout, else `postgres` on PATH)."""
    versions: list[tuple[tuple[int, ...], Path]] = []
    if install_root.is_dir():
        for entry in install_root.iterdir():
            if (entry / "bin" / "postgres").is_file() and (entry / "bin" / "initdb").is_file():
                key = tuple(int(p) for p in re.findall(r"\d+", entry.name))
                versions.append((key, entry / "bin"))
    if versions:
        return max(versions)[1]
    on_path = shutil.which("postgres")
    if on_path is not None and (Path(on_path).parent / "initdb").is_file():
        return Path(on_path).parent
    raise ConfigurationError(
        "PostgreSQL is not installed (no postgres/initdb under "
        f"{install_root}/<version>/bin nor on PATH; Debian package `postgresql`)"
    )


def _as_system_user() -> list[str]:
    """The command prefix that drops root to the `postgres` user (empty when not root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        # Changing user clears the parent-death signal set before: set it again after.
        return [
            setpriv,
            "--reuid",
            _SYSTEM_USER,
            "--regid",
            _SYSTEM_USER,
            "--init-groups",
            "--pdeathsig",
            "INT",
            "--",
        ]
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", _SYSTEM_USER, "--"]
    raise ConfigurationError("running PostgreSQL as root needs setpriv or runuser (util-linux)")


def _psycopg() -> Any:
    try:
        return importlib.import_module("psycopg")
    except ImportError as exc:
        raise ConfigurationError(
            "psycopg is not installed (install drimlab with the `postgres` extra)"
        ) from exc


class PostgresServer(ManagedPeer):
    """A private PostgreSQL cluster and server with one database; a context manager."""

    name = "PostgreSQL"

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        database: str = "drimlab",
        bindir: Path | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        if not _DATABASE_NAME.fullmatch(database):
            raise ConfigurationError(f"not a plain PostgreSQL database name: {database!r}")
        super().__init__(workdir, startup_timeout)
        self._database = database
        self._bindir = bindir

    # -- lifecycle ---------------------------------------------------------------------------

    def _program_path(self) -> str:
        bindir = self._bindir if self._bindir is not None else find_bindir()
        if not (bindir / "postgres").is_file() or not (bindir / "initdb").is_file():
            raise ConfigurationError(
                f"PostgreSQL is not installed (no postgres/initdb in {bindir})"
            )
        _psycopg()
        return str(bindir / "postgres")

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "postgres.log"

    def _init_cluster(self, program: str) -> None:
        """Run initdb once into `data_dir` (kept across launch attempts)."""
        if (self.data_dir / "PG_VERSION").is_file():
            return
        prefix = _as_system_user()
        if prefix:
            # The system user must own its folder, and reach it (mkdtemp makes it 0700).
            shutil.chown(self.workdir, _SYSTEM_USER, _SYSTEM_USER)
        initdb = str(Path(program).parent / "initdb")
        argv = [
            *prefix,
            initdb,
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
        try:
            done = subprocess.run(
                argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self._startup_timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigurationError(f"initdb failed: {exc}") from exc
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise ConfigurationError(
                f"initdb exited with status {done.returncode}: {output[-600:]!r}"
            )

    def _launch(self, program: str, port: int) -> ChildProcess:
        """Make the cluster if needed, start the server on `port`, create the database."""
        self._init_cluster(program)
        argv = [
            *_as_system_user(),
            program,
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(self.workdir),
        ]
        for key, value in _SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        process = ChildProcess(argv, log_path=self.log_path, cwd=self.workdir)
        try:
            process.wait_until(
                lambda: self._accepts(port), timeout=self._startup_timeout, what="PostgreSQL"
            )
            self._create(port, self._database)
        except ConfigurationError:
            self._stop_process(process)
            raise
        return process

    def _stop_process(self, process: ChildProcess) -> None:
        # SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
        if process.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
        process.stop()

    def stop(self) -> None:
        """Fast-shutdown the server; remove its folder unless the caller gave it."""
        if self._process is not None:
            self._stop_process(self._process)
            self._process = None
        self._cleanup_dir()

    # -- connections -------------------------------------------------------------------------

    def _connect(self, port: int, database: str) -> Any:
        return _psycopg().connect(
            host="127.0.0.1",
            port=port,
            user=SUPERUSER,
            dbname=database,
            connect_timeout=2,
            autocommit=True,
        )

    def _accepts(self, port: int) -> bool:
        """Whether the server takes queries yet (it refuses them while it starts up)."""
        try:
            with self._connect(port, "postgres") as conn:
                conn.execute("SELECT 1")
        except _psycopg().OperationalError:
            return False
        return True

    def _create(self, port: int, database: str) -> None:
        psycopg = _psycopg()
        try:
            with self._connect(port, "postgres") as conn:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database))
                )
        except psycopg.Error as exc:
            raise ConfigurationError(f"cannot create database {database!r}: {exc}") from exc

    def create_database(self, database: str) -> str:
        """Create another, empty database on this server; its SQLAlchemy URL."""
        if not _DATABASE_NAME.fullmatch(database):
            raise ConfigurationError(f"not a plain PostgreSQL database name: {database!r}")
        self._create(self.port, database)
        return self.url_of(database)

    def execute(self, statement: str, database: str = "postgres") -> None:
        """Run one administrative SQL statement as the superuser (autocommit)."""
        with self._connect(self.port, database) as conn:
            conn.execute(statement)

    def url_of(self, database: str) -> str:
        """The SQLAlchemy URL (psycopg 3 driver) of a database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the server's own database."""
        return self.url_of(self._database)
