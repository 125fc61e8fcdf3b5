"""Where the server simulator of a consumer scenario listens, fixed when the run starts.

A consumer DRIMBox learns the WADO-RS base URL from the KOS it reads, so the KOS handed to the
consumer under test must point at the simulator of *this* run, not at the bench's default
`https://localhost:8443`. When a run starts, `address_run` fixes the port (a free one for
`port=0`), writes the URL into the run's values (`server_url`, so every step text can show it)
and makes the exam's KOS for that URL (`kos_uid`, registered in the catalogue so the simulator
knows it). With `port=0` the port an earlier run of the exam used is taken again when it is
free (never the port of the dataset's own KOS, `drimlab start`'s): its KOS serves again, and
the catalogue does not grow by one KOS per run.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping

from drimlab.config import Settings
from drimlab.datasets.catalog import ExamInfo, kos_for_base
from drimlab.scenarios.inputs import TRUE_WORDS
from drimlab.scenarios.schema import Scenario
from drimlab.simulators.address import public_host
from drimlab.simulators.environment import BenchEnvironment
from drimlab.simulators.runner import free_port
from drimlab.store import Store

LISTEN_HOST = "127.0.0.1"
BASE_PATH = "/dicom-web"


def serves(scenario: Scenario) -> bool:
    """Whether a step of the scenario runs the server simulator."""
    return any(step.action == "serve" for step in scenario.steps)


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LISTEN_HOST, port))
        except OSError:
            return False
    return True


def _port(exam: ExamInfo, origin_pattern: re.Pattern[str], default_base: str) -> int:
    for kos in exam.manifests:
        base = kos.retrieve_base_url or ""
        match = origin_pattern.fullmatch(base)
        # never the dataset's own base (the port of `drimlab start`)
        if kos.origin == "built" and base != default_base and match and _is_free(int(match[1])):
            return int(match[1])
    return free_port(LISTEN_HOST)


def address_run(
    store: Store,
    settings: Settings,
    env: BenchEnvironment,
    exam: ExamInfo,
    values: Mapping[str, str],
) -> dict[str, str]:
    """The run values that fix the simulator's port, its URL and the exam's KOS for it."""
    insecure = values.get("insecure_http", "").strip().lower() in TRUE_WORDS
    scheme = "http" if insecure else "https"
    host = public_host(LISTEN_HOST, env)
    port = int(values.get("port") or 0)
    if port == 0:
        pattern = re.compile(rf"{scheme}://{re.escape(host)}:(\d+){BASE_PATH}")
        port = _port(exam, pattern, settings.wado_base_url)
    server_url = f"{scheme}://{host}:{port}{BASE_PATH}"
    kos = kos_for_base(store, settings, exam.name, server_url)
    return {"port": str(port), "server_url": server_url, "kos_uid": kos.sop_instance_uid}
