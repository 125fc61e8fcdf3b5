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
