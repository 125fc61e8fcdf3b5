"""Where drimlab keeps its data: one frozen `Settings` read from the environment.

`DRIMLAB_HOME` (default `./drimlab-data`) holds the SQLite store, the datasets, the test PKI
and the recorded bodies; `DRIMLAB_DATABASE_URL` points the store at another database
(PostgreSQL for a shared environment) while files stay under the home;
`DRIMLAB_WADO_BASE_URL` is the WADO-RS base URL written in the KOS drimlab builds
(everything before `/studies` in each series' Retrieve URL).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Settings:
    """The locations one drimlab process works with."""

    home: Path
    database_url: str
    wado_base_url: str = "https://localhost:8443/dicom-web"

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
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("DRIMLAB_HOME") or "drimlab-data").expanduser().resolve()
        url = env.get("DRIMLAB_DATABASE_URL") or f"sqlite:///{home / 'drimlab.db'}"
        base = env.get("DRIMLAB_WADO_BASE_URL") or cls.wado_base_url
        return cls(home=home, database_url=url, wado_base_url=base.rstrip("/"))
