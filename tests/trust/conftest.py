"""Trust fixtures: one test PKI per session, a signed bench whitelist, a live mTLS server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from drimlab.facts.tls import TlsFacts
from drimlab.trust.enforce import HandshakeRefusals, client_facts
from drimlab.trust.peer import request_connection
from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.tls import serve_tls, server_context
from drimlab.trust.whitelist import Whitelist, load_whitelist
from drimlab.trust.whitelist_sign import make_whitelist, sign_whitelist
from drimlab.validation.engine import validate_connection
from drimlab.validation.findings import Finding


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A bench PKI shared by the session (RSA key generation is the slow part)."""
    return Pki.init(tmp_path_factory.mktemp("trust") / "pki")


def bench_list(pki: Pki) -> bytes:
    """The bench whitelist naming the source and consumer certificates, signed."""
    domains = [
        (e.hosts[0], "", e.subject.split("O=")[1].split(",")[0], e.subject)
        for e in (pki.entry("source"), pki.entry("consumer"))
    ]
    return sign_whitelist(
        make_whitelist(domains),
        pki.certificate("whitelist-signer"),
        pki.key_path("whitelist-signer").read_bytes(),
        [pki.certificate("organisations"), pki.certificate("root")],
    )


@pytest.fixture(scope="session")
def signed_bench_list(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wl") / "bench-whitelist.xml"
    path.write_bytes(bench_list(pki))
    return path


@dataclass
class MtlsServer:
    """A real aiohttp server on loopback with our server context; records every refusal."""

    port: int
    refusals: HandshakeRefusals
    app_findings: list[Finding] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/peer"

    def all_codes(self) -> list[str]:
        refused = [f for facts in self.refusals.refused for f in judged(facts)]
        return [f.rule for f in (*refused, *self.app_findings)]

    def reset(self) -> None:
        self.refusals.drain()
        self.app_findings.clear()


def judged(facts: TlsFacts) -> tuple[Finding, ...]:
    """The findings the TLS rules make of one connection's facts."""
    return validate_connection(facts).findings


def peer_summary(facts: TlsFacts) -> dict[str, object] | None:
    """The peer certificate as the test server reports it back to the client."""
    if facts.peer is None:
        return None
    return {
        **facts.peer.as_dict(),
        "chain_status": "verified" if facts.chain_verified else "not-verified",
        "revocation_status": facts.lookups.revocation.value,
        "tls_version": facts.version,
        "cipher": facts.cipher,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mtls_server(pki: Pki, signed_bench_list: Path) -> Iterator[MtlsServer]:
    whitelist: Whitelist = load_whitelist(signed_bench_list)
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    server = MtlsServer(_free_port(), HandshakeRefusals())

    async def peer(request: web.Request) -> web.Response:
        facts = client_facts(request_connection(request), whitelist, crl=crl)
        findings = judged(facts)
        server.app_findings.extend(findings)
        body = {"peer": peer_summary(facts), "findings": [f.as_dict() for f in findings]}
        return web.Response(
            status=403 if findings else 200, text=json.dumps(body), content_type="application/json"
        )

    context = server_context(
        pki.chain_path("source"),
        pki.key_path("source"),
        pki.bundle_path,
        on_failure=server.refusals.record,
    )
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/peer", peer)
    runner = web.AppRunner(app, access_log=None)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        assert runner.server is not None
        listener = loop.run_until_complete(
            serve_tls(runner.server, "127.0.0.1", server.port, context)
        )
        ready.set()
        loop.run_forever()
        listener.close()
        loop.run_until_complete(listener.wait_closed())
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="mtls-server", daemon=True)
    thread.start()
    assert ready.wait(60), "the mTLS test server did not start"
    yield server
    loop.call_soon_threadsafe(loop.stop)
    thread.join(60)
