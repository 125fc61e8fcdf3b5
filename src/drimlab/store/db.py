"""Opening the store: engine, sessions, and migrations under a lock.

Several processes may open the same store (portal and simulator workers): migrations run
under an exclusive lock (a file lock for SQLite, an advisory lock for PostgreSQL), and
SQLite runs in WAL mode with a busy timeout so readers and one writer never block for long.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from drimlab.config import Settings, private_directory, private_file
from drimlab.errors import StoreError
from drimlab.locks import Release, file_lock, reentrant

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_POSTGRES_LOCK_BASE = 0x6472696D << 32  # "drim" in the high half of the 64-bit key


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _engine_url(database_url: str) -> URL | str:
    """The URL to connect with: a bare `postgresql://` uses psycopg 3, the driver we ship."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return database_url  # create_engine reports it
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def _shown(url: URL | str) -> str:
    """A URL fit for an error message: never its password."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _reason(exc: BaseException) -> str:
    """The driver's own words on one line (without SQLAlchemy's SQL echo and help link)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return "; ".join(lines) or type(cause).__name__


def _private_sqlite(url: URL | str) -> None:
    """Create the SQLite file 0600 before SQLite does (its -wal and -shm copy that mode)."""
    database = url.database if isinstance(url, URL) else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        private_directory(path.parent)
        for existing in (
            path,
            path.with_name(f"{path.name}-wal"),
            path.with_name(f"{path.name}-shm"),
        ):
            if existing == path or existing.exists():
                private_file(existing)
    except OSError as exc:
        raise StoreError(f"cannot create the database file {path}: {exc.strerror}") from exc


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


class Store:
    """A handle on one database: `session()` for units of work, `migrate()` to upgrade."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = _engine_url(settings.database_url)
        if settings.is_sqlite:
            settings.ensure_home()
            _private_sqlite(url)
        self._shown_url = _shown(url)
        try:
            self.engine = create_engine(url, future=True)
        except Exception as exc:
            raise StoreError(f"cannot open database {self._shown_url!r}: {_reason(exc)}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back otherwise."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """One writer of `name` at a time across processes: the home's `.{name}.lock` file lock,
        and with a PostgreSQL store also a session advisory lock, so writers on other hosts
        of a deployment wait too. Both are released when their holder dies, even by SIGKILL.
        """
        with file_lock(self.settings.home / f".{name}.lock"):
            if self.engine.dialect.name != "postgresql":
                yield
                return
            key = _POSTGRES_LOCK_BASE + zlib.crc32(name.encode())
            with reentrant(("postgresql", self._shown_url, key), lambda: self._advisory(key)):
                yield

    def _advisory(self, key: int) -> Release:
        conn = self.engine.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
        except BaseException:
            conn.close()
            raise

        def release() -> None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            finally:
                conn.close()

        return release

    def migrate(self) -> None:
        """Bring the schema to the newest revision; stored rows are kept."""
        try:
            with self.lock("migrate"):
                command.upgrade(alembic_config(self.engine), "head")
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"cannot migrate the store in {self._shown_url!r}: {_reason(exc)}"
            ) from exc

    def close(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """Open (and by default upgrade) the store named by the settings or the environment."""
    store = Store(settings or Settings.from_env())
    if migrate:
        store.migrate()
    return store
