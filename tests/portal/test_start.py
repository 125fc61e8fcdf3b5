"""`drimlab start` serves the portal beside the server simulator and prints its URL first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from drimlab.config import Settings
from drimlab.simulators.runner import free_port


def test_start_prints_the_portal_url_first_and_serves_it(default_dataset_copy: Settings) -> None:
    port, portal_port = free_port(), free_port()
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    env = {**os.environ, "DRIMLAB_HOME": str(default_dataset_copy.home)}
    command = [drimlab, "start", "--port", str(port), "--crl-port", "0"]
    process = subprocess.Popen(
        [*command, "--portal-port", str(portal_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.split() == ["drimlab", "portal", f"http://127.0.0.1:{portal_port}/"]
        deadline = time.monotonic() + 120
        while "serving" not in process.stdout.readline() and time.monotonic() < deadline:
            pass
        with urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/", timeout=30) as answer:
            home = answer.read().decode()
        # the base URL the certificate and the whitelist name (localhost), as the notice prints it
        assert f"https://localhost:{port}/dicom-web" in home
        assert 'id="simulator-status">listening' in home
        with urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/server", timeout=30) as page:
            assert 'id="faults-form"' in page.read().decode()  # same process: switchable
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0


def test_start_with_accounts_serves_a_shared_environment_that_asks_for_a_login(
    default_dataset_copy: Settings,
) -> None:
    port, portal_port = free_port(), free_port()
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    env = {**os.environ, "DRIMLAB_HOME": str(default_dataset_copy.home)}
    command = [drimlab, "start", "--port", str(port), "--crl-port", "0", "--accounts"]
    process = subprocess.Popen(
        [*command, "--portal-port", str(portal_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        assert process.stdout is not None
        assert process.stdout.readline().split()[:2] == ["drimlab", "portal"]
        deadline = time.monotonic() + 120
        while "serving" not in process.stdout.readline() and time.monotonic() < deadline:
            pass
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"http://127.0.0.1:{portal_port}/server", timeout=30)
            raise AssertionError("the server page answered without a login")
        except urllib.error.HTTPError as answer:
            assert answer.code == 303
            assert answer.headers["location"].startswith("/login")
        with urllib.request.urlopen(f"http://127.0.0.1:{portal_port}/login", timeout=30) as page:
            assert 'name="password"' in page.read().decode()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 0
