"""Stands in for a consumer DRIMBox under test: the client simulator, started by a scenario's
trigger, retrieves the exam it is told about from the server simulator (DRIMLAB_SCENARIO_*).

With `--from-kos` it does what a real consumer does: it takes the base URL from the KOS's
Retrieve URLs only (no DRIMLAB_SCENARIO_BASE_URL).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from drimlab.config import Settings
from drimlab.simulators.consumer import RetrieveOptions, retrieve
from drimlab.store import open_store


def main() -> int:
    env = os.environ
    from_kos = "--from-kos" in sys.argv[1:]
    settings = Settings.from_env()
    store = open_store(settings)
    try:
        result = retrieve(
            store,
            settings,
            RetrieveOptions(
                base_url=None if from_kos else env["DRIMLAB_SCENARIO_BASE_URL"],
                kos_path=Path(env["DRIMLAB_SCENARIO_KOS_FILE"]),
                series=tuple(env["DRIMLAB_SCENARIO_SERIES_UIDS"].split()[:1]),
                token=env["DRIMLAB_SCENARIO_TOKEN"],
                cert=Path(env["DRIMLAB_SCENARIO_CERT"]),
                key=Path(env["DRIMLAB_SCENARIO_KEY"]),
                ca=Path(env["DRIMLAB_SCENARIO_CA"]),
                whitelist=Path(env["DRIMLAB_SCENARIO_WHITELIST"]),
            ),
        )
    finally:
        store.close()
    print(" ".join(str(r.status) for r in result.records), result.verdict.value)
    return 0 if result.records else 1


if __name__ == "__main__":
    sys.exit(main())
