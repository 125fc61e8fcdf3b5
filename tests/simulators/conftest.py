"""A running server simulator over the default dataset (plain HTTP, DRIM-M mode)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from drimlab.config import Settings
from drimlab.simulators.connections import ConnectionGuard, ConnectionPolicy
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.recording import Recorder
from drimlab.simulators.runner import RunningServer, serve_in_thread
from drimlab.simulators.source import SourceConfig, make_app, with_faults
from drimlab.store import Store, open_store
from drimlab.tokens import TokenIssuer, TokenVerifier


@dataclass
class Simulator:
    """A started simulator and what a test needs to talk to it."""

    server: RunningServer
    store: Store
    index: CatalogIndex
    recorder: Recorder
    issuer: TokenIssuer

    @property
    def base(self) -> str:
        return f"{self.server.origin}/dicom-web"

    def headers(self, study_uid: str) -> dict[str, str]:
        """DRIM-M request headers for an exam: a fresh token and that exam's KOS."""
        exam = self.index.exam(study_uid)
        assert exam is not None and exam.kos is not None
        return {
            "Authorization": f"Bearer {self.issuer.issue()}",
            "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
        }


@pytest.fixture
def start_simulator(default_dataset_copy: Settings) -> Iterator:
    """A factory: start the simulator with the given fault specs (stopped at test end)."""
    stack = []
    store = open_store(default_dataset_copy)
    issuer = TokenIssuer.open(default_dataset_copy)

    def start(
        *faults: str, drim_mode: bool = True, policy: ConnectionPolicy | None = None
    ) -> Simulator:
        index = CatalogIndex(store)
        recorder = Recorder(store, index)
        config = SourceConfig(
            drim_mode=drim_mode,
            verifier=TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url),
            jwks=issuer.jwks(),
        )
        app = make_app(index, with_faults(config, faults), recorder)
        guard = ConnectionGuard(policy, sink=recorder.record_noise)
        context = serve_in_thread(app, guard=guard)
        server = context.__enter__()
        stack.append((context, recorder))
        return Simulator(server, store, index, recorder, issuer)

    yield start
    for context, recorder in reversed(stack):
        context.__exit__(None, None, None)
        recorder.close()
    store.close()
