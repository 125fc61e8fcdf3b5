"""Where drimlab keeps its data: one frozen `Settings` read from the environment.

`DRIMLAB_HOME` (default `./drimlab-data`) holds the SQLite store, the datasets, the test PKI
and the recorded bodies; `DRIMLAB_DATABASE_URL` points the store at another database
(PostgreSQL for a shared environment) while files stay under the home;
`DRIMLAB_WADO_BASE_URL` is the WADO-RS base URL written in the KOS drimlab builds
(everything before `/studies` in each series' Retrieve URL).

The limits that protect a shared store (none by default: the lab keeps everything):
`DRIMLAB_QUOTA_EXCHANGES` and `DRIMLAB_QUOTA_BYTES` (`500M`, `2G`) are each organisation's
default quota, `DRIMLAB_RETENTION_DAYS` the age past which exchanges and reports are purged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drimlab.errors import ConfigurationError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_directory(path: Path) -> Path:
    """Create `path` (and missing parents) readable by its owner only, whatever the umask.

    A directory that already exists is left as it is: its owner chose its mode.
    """
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create `path` if missing, and make it readable and writable by its owner only.

    An existing file is changed by name, never opened: closing a descriptor of a SQLite
    database would drop the POSIX locks another connection of this process holds on it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE)
    except FileExistsError:
        if path.stat().st_uid == os.getuid():  # another owner chose its mode
            os.chmod(path, PRIVATE_FILE)
    else:
        try:
            os.fchmod(fd, PRIVATE_FILE)
        finally:
            os.close(fd)
    return path


_SIZE = re.compile(r"(\d+)\s*([KMGT]?)(I?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
NO_LIMIT = ("", "none", "unlimited")


def parse_size(text: str) -> int:
    """Bytes from `1048576`, `500M`, `2G` (K, M, G, T are powers of 1024); ValueError if not."""
    found = _SIZE.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a size (a number of bytes, or like 500M, 2G)")
    return int(found.group(1)) * _UNITS[found.group(2).upper()]


def parse_count(text: str) -> int:
    """A count of 0 or more: ValueError otherwise."""
    if not text.strip().isdigit():
        raise ValueError(f"{text!r} is not a whole number of 0 or more")
    return int(text.strip())


def _limit(env: Mapping[str, str], name: str, parse: Callable[[str], int]) -> int | None:
    value = env.get(name, "")
    if value.strip().lower() in NO_LIMIT:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: {exc} (or 'none' for no limit)") from None


def _days(text: str) -> int:
    days = parse_count(text)
    if days < 1:
        raise ValueError(f"{text!r} is not a number of days of 1 or more")
    return days


FRONT_SECRET_LENGTH = 32


def _front_secret(env: Mapping[str, str]) -> str | None:
    secret = env.get("DRIMLAB_FRONT_SECRET", "").strip()
    if not secret:
        return None
    if len(secret) < FRONT_SECRET_LENGTH:
        raise ConfigurationError(
            f"DRIMLAB_FRONT_SECRET: at least {FRONT_SECRET_LENGTH} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    return secret


@dataclass(frozen=True)
class Settings:
    """The locations one drimlab process works with."""

    home: Path
    database_url: str
    wado_base_url: str = "https://localhost:8443/dicom-web"
    quota_exchanges: int | None = None  # each organisation's default; None: unlimited
    quota_bytes: int | None = None
    retention_days: int | None = None  # None: keep everything
    # shared by the HTTPS front (nginx) and the portal workers: the front proves with it that
    # it verified the client certificate it passes on (login by client certificate)
    front_secret: str | None = field(default=None, repr=False)

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def bodies_dir(self) -> Path:
        """Where recorded message bodies are kept (one file per body, named by its SHA-256)."""
        return self.home / "bodies"

    def ensure_home(self) -> Path:
        """The home, created 0700 when missing (it holds keys, tokens' hashes, evidence)."""
        return private_directory(self.home)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("DRIMLAB_HOME") or "drimlab-data").expanduser().resolve()
        url = env.get("DRIMLAB_DATABASE_URL") or f"sqlite:///{home / 'drimlab.db'}"
        base = env.get("DRIMLAB_WADO_BASE_URL") or cls.wado_base_url
        return cls(
            home=home,
            database_url=url,
            wado_base_url=base.rstrip("/"),
            quota_exchanges=_limit(env, "DRIMLAB_QUOTA_EXCHANGES", parse_count),
            quota_bytes=_limit(env, "DRIMLAB_QUOTA_BYTES", parse_size),
            retention_days=_limit(env, "DRIMLAB_RETENTION_DAYS", _days),
            front_secret=_front_secret(env),
        )
