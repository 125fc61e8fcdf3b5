"""Security of a shared environment, in-process: session fixation, every id-bearing URL tried
across organisations, the login throttle per address, path traversal in upload names.

CSRF on every state-changing form and the per-login throttle are in test_accounts.py; XSS in
a real browser is in test_security_browser.py, the 2 GiB uploads in test_security_uploads.py.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from drimlab.store import accounts
from drimlab.store.background import create_job

from .conftest import PASSWORD, SharedPortal, csrf_of
from .test_isolation import SCENARIO, _a_consumer_exchange, _start_run, _validate_a_kos

SESSION = "drimlab_session"
LOGIN = "drimlab_login"


# -- session fixation -----------------------------------------------------------------------


def _log_in(client: TestClient, login: str = "alice") -> Any:
    form = client.get("/login").text.split('id="login-form"', 1)[1]  # not the logout form's
    found = re.search(r'name="csrf" value="([^"]+)"', form)
    assert found is not None
    return client.post(
        "/login",
        data={"login": login, "password": PASSWORD, "csrf": found.group(1)},
        follow_redirects=False,
    )


def _with_session(shared: SharedPortal, token: str) -> TestClient:
    client = shared.client()
    client.cookies.set(SESSION, token, domain="testserver.local")  # as httpx files it
    return client


def _logged_in(client: TestClient) -> bool:
    return client.get("/server", follow_redirects=False).status_code == 200


def test_no_cookie_set_before_login_becomes_the_session(shared: SharedPortal) -> None:
    planted = "drl_planted-by-an-attacker-0123456789abcdefghijkl"
    client = _with_session(shared, planted)
    assert not _logged_in(client)  # a planted value authenticates nobody
    pre_login = client.get("/login").cookies.get(LOGIN)  # the portal's own pre-login cookie
    assert pre_login
    answer = _log_in(client)
    assert answer.status_code == 303
    session = answer.cookies.get(SESSION)
    assert session and session not in {planted, pre_login}
    assert _logged_in(client)
    for stale in (planted, pre_login):
        assert not _logged_in(_with_session(shared, stale)), stale
    assert accounts.session_account(shared.store, planted) is None

    # an attacker's own valid session planted in a victim's browser ends at the victim's login
    attacker = shared.login("bob")
    attackers_session = str(attacker.cookies.get(SESSION))
    victim = _with_session(shared, attackers_session)
    assert "bob" in victim.get("/server").text
    again = _log_in(victim)
    assert again.status_code == 303
    assert again.cookies.get(SESSION) != attackers_session
    assert not _logged_in(_with_session(shared, attackers_session))
    now = accounts.session_account(shared.store, str(victim.cookies.get(SESSION)))
    assert now is not None and now.login == "alice"

    # after logout the old cookie no longer works, even replayed from elsewhere
    old = str(client.cookies.get(SESSION))
    client.post("/logout", data={"csrf": csrf_of(client.get("/"))}, follow_redirects=False)
    assert not _logged_in(client)
    assert not _logged_in(_with_session(shared, old))


# -- brute force ------------------------------------------------------------------------------


def test_failed_logins_are_throttled_per_address_across_account_names(
    shared: SharedPortal,
) -> None:
    client = shared.client()
    for number in range(accounts.MAX_ADDRESS_FAILURES):
        form = client.get("/login")
        wrong = client.post(
            "/login",
            data={"login": f"guess-{number}", "password": "not it", "csrf": csrf_of(form)},
        )
        assert wrong.status_code == 401, number
    # the right password of an untouched account, from the same address: throttled too
    assert _log_in(client).status_code == 429
    assert _log_in(shared.client(), "bob").status_code == 429
    # from another address the same account still logs in
    elsewhere = TestClient(shared.app, base_url="https://testserver", client=("10.0.0.2", 5000))
    assert _log_in(elsewhere).status_code == 303
