"""The bench's test environment on its embedded defaults: dataset, PKI, whitelist, token issuer.

`BenchEnvironment.prepare` makes whatever is missing (the default dataset, a test PKI, the
bench's signed whitelist naming its two simulators, the token issuer key) and returns where
everything is. Several processes may prepare the same home at once: they take turns under a
file lock, and the first one creates while the others find it done.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drimlab.config import Settings, private_file
from drimlab.datasets.catalog import ensure_default_dataset
from drimlab.store import Store
from drimlab.tokens import TokenIssuer
from drimlab.trust.pki import Pki, write_file
from drimlab.trust.pki_files import MANIFEST
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import Whitelist, load_whitelist
from drimlab.trust.whitelist_sign import bench_whitelist

SOURCE_CERT = "source"
CONSUMER_CERT = "consumer"


@dataclass(frozen=True)
class BenchEnvironment:
    """Where the test environment's pieces are, once prepared."""

    settings: Settings
    pki: Pki
    whitelist_path: Path
    issuer: TokenIssuer

    @classmethod
    def prepare(
        cls,
        store: Store,
        settings: Settings,
        *,
        progress: Callable[[str], None] | None = None,
        dataset: bool = True,
    ) -> BenchEnvironment:
        """Create what is missing (under a lock) and return the environment.

        `dataset=False` leaves the default dataset alone (the client simulator needs only
        the PKI, the whitelist and the token issuer).
        """
        say = progress or (lambda _message: None)
        settings.ensure_home()
        with private_file(settings.home / ".prepare.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if dataset and ensure_default_dataset(store, settings):
                    say("generated the default dataset")
                if not (settings.pki_dir / MANIFEST).exists():
                    say(f"creating the test PKI in {settings.pki_dir}")
                    Pki.init(settings.pki_dir)
                pki = Pki.open(settings.pki_dir)
                whitelist_path = settings.pki_dir / "whitelist.xml"
                if not whitelist_path.exists():
                    say(f"signing the bench whitelist {whitelist_path}")
                    write_file(whitelist_path, bench_whitelist(pki), mode=0o644)
                issuer = TokenIssuer.open(settings)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return cls(settings, pki, whitelist_path, issuer)

    def whitelist(self) -> Whitelist:
        return load_whitelist(self.whitelist_path)

    def revocation_list(self) -> RevocationList:
        return RevocationList.load(
            self.pki.crl_path, [self.pki.certificate("organisations"), self.pki.certificate("root")]
        )
