"""Login by client certificate behind the HTTPS front, every part a real process: a
`drimlab portal --accounts` worker and nginx (`PortalFront`) verifying client certificates
against the environment's CA and passing them on with the front secret.

A user whose certificate an admin bound (`drimlab admin bind-certificate`) logs in with it;
a certificate bound to nobody, a disabled user, no certificate, forged headers sent through
the front and forged headers sent to the worker without the secret are all refused.
"""

from __future__ import annotations

import functools
import re
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from drimlab.config import Settings
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT, BenchEnvironment
from drimlab.store import open_store
from drimlab.testing.nginx_front import PortalFront
from drimlab.testing.process import ChildProcess, free_port, port_accepts
from drimlab.trust.pki import DEFAULT_CONSUMER_HOST, Pki

from .conftest import PASSWORD

pytestmark = [pytest.mark.peer, pytest.mark.slow]
DRIMLAB = str(Path(sys.executable).parent / "drimlab")
SECRET = secrets.token_hex(32)


def _admin(*argv: str, password: bool = False) -> str:
    done = subprocess.run(
        [DRIMLAB, "admin", *argv, *(["--password-stdin"] if password else [])],
        input=(PASSWORD + "\n").encode() if password else None,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def _pki(settings: Settings) -> Pki:
    """The environment's test PKI, made as `drimlab start` makes it."""
    store = open_store(settings)
    try:
        return BenchEnvironment.prepare(store, settings, dataset=False).pki
    finally:
        store.close()


@pytest.fixture
def front(
    default_dataset_copy: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PortalFront, Pki, int]]:
    home = default_dataset_copy.home
    monkeypatch.setenv("DRIMLAB_HOME", str(home))
    monkeypatch.setenv("DRIMLAB_DATABASE_URL", default_dataset_copy.database_url)
    monkeypatch.setenv("DRIMLAB_FRONT_SECRET", SECRET)
    _admin("create-organisation", "Vendor A", "--identity", DEFAULT_CONSUMER_HOST)
    _admin("create-user", "alice", "--organisation", "Vendor A", password=True)
    pki = _pki(default_dataset_copy)
    _admin("bind-certificate", "alice", str(pki.chain_path(CONSUMER_CERT)))
    port = free_port()
    portal = ChildProcess(
        [DRIMLAB, "portal", "--accounts", "--port", str(port)],
        log_path=tmp_path / "portal.log",
        cwd=tmp_path,
    )
    try:
        portal.wait_until(functools.partial(port_accepts, port), timeout=300, what="portal")
        with PortalFront(
            upstreams=[f"127.0.0.1:{port}"],
            cert_file=pki.chain_path(SOURCE_CERT),
            key_file=pki.key_path(SOURCE_CERT),
            client_ca=pki.bundle_path,
            front_secret=SECRET,
        ) as running:
            yield running, pki, port
    finally:
        portal.stop()
    assert SECRET not in (tmp_path / "portal.log").read_text(errors="replace")


def _browser(front: PortalFront, pki: Pki, cert: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.bundle_path))
    if cert is not None:
        context.load_cert_chain(str(pki.chain_path(cert)), str(pki.key_path(cert)))
    return httpx.Client(base_url=front.url, verify=context, trust_env=False, timeout=60)


def _with_certificate(client: httpx.Client, **headers: str) -> httpx.Response:
    form = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None and 'id="certificate-login"' in form.text
    return client.post(
        "/login/certificate", data={"csrf": found.group(1), "next": "/"}, headers=headers
    )


def test_a_user_logs_in_with_the_certificate_an_admin_bound(
    front: tuple[PortalFront, Pki, int],
) -> None:
    running, pki, port = front
    with _browser(running, pki, CONSUMER_CERT) as alice:
        answer = _with_certificate(alice)
        assert answer.status_code == 303, answer.text[:300]
        home = alice.get("/")
        assert 'id="who"' in home.text and "alice" in home.text
    with _browser(running, pki, SOURCE_CERT) as nobody:  # verified, bound to no account
        answer = _with_certificate(nobody)
        assert answer.status_code == 401 and "opens no account" in answer.text
    with _browser(running, pki, None) as anonymous:  # no certificate, forged headers
        consumer_pem = pki.chain_path(CONSUMER_CERT).read_text()
        answer = _with_certificate(
            anonymous,
            **{
                "X-Client-Verify": "SUCCESS",
                "X-Client-Cert": quote(consumer_pem),
                "X-Drimlab-Front": SECRET,  # even knowing it: the front replaces them all
            },
        )
        assert answer.status_code == 401 and "no verified client certificate" in answer.text
    # straight to the worker, without the front's secret: the headers are not believed
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as direct:
        nonce = "n" * 43
        answer = direct.post(
            "/login/certificate",
            data={"csrf": nonce, "next": "/"},
            headers={
                "Cookie": f"drimlab_login={nonce}",
                "X-Client-Verify": "SUCCESS",
                "X-Client-Cert": quote(pki.chain_path(CONSUMER_CERT).read_text()),
                "X-Drimlab-Front": "a guess of the secret, long enough to be one",
            },
        )
        assert answer.status_code == 401 and "drimlab_session" not in answer.headers.get(
            "set-cookie", ""
        )
    _admin("disable", "alice")
    with _browser(running, pki, CONSUMER_CERT) as alice:
        answer = _with_certificate(alice)
        assert answer.status_code == 401 and "opens no account" in answer.text


def test_binding_a_certificate_refuses_a_second_user_and_a_bad_file(
    default_dataset_copy: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DRIMLAB_HOME", str(default_dataset_copy.home))
    monkeypatch.setenv("DRIMLAB_DATABASE_URL", default_dataset_copy.database_url)
    _admin("create-organisation", "Vendor A")
    for login in ("alice", "albert"):
        _admin("create-user", login, "--organisation", "Vendor A", password=True)
    pki = _pki(default_dataset_copy)
    cert = str(pki.chain_path(CONSUMER_CERT))
    assert "bound" in _admin("bind-certificate", "alice", cert)
    again = subprocess.run(
        [DRIMLAB, "admin", "bind-certificate", "albert", cert],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 2 and "already opens the account 'alice'" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    bad = subprocess.run(
        [DRIMLAB, "admin", "bind-certificate", "albert", str(junk)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "unbound" in _admin("bind-certificate", "alice", "--remove")
    assert "bound" in _admin("bind-certificate", "albert", cert)
