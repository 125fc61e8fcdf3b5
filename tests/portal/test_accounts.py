"""Accounts of a shared environment, in-process: login, sessions, CSRF, throttling, admin."""

from __future__ import annotations

from sqlalchemy import text
from starlette.routing import Route

from drimlab.cli import run
from drimlab.store import accounts

from .conftest import PASSWORD, PortalUnderTest, SharedPortal, csrf_of


def test_without_accounts_the_lab_portal_needs_no_login(portal: PortalUnderTest) -> None:
    page = portal.client.get("/")
    assert page.status_code == 200
    assert 'id="logout"' not in page.text
    assert portal.client.get("/login", follow_redirects=False).status_code == 303
    assert portal.client.get("/admin").status_code == 404


def test_a_logged_out_browser_is_sent_to_the_login_page(shared: SharedPortal) -> None:
    client = shared.client()
    answer = client.get("/server?verdict=FAILED", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fserver%3Fverdict%3DFAILED"
    assert client.post("/validate", data={"kind": "kos"}).status_code == 401
    assert client.get("/static/portal.css").status_code == 200


def test_login_sets_a_secure_session_cookie_and_stores_only_its_digest(
    shared: SharedPortal,
) -> None:
    client = shared.client()
    client.cookies.set("drimlab_session", "drl_chosen-by-an-attacker", domain="testserver.local")
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"login": "alice", "password": PASSWORD, "csrf": csrf_of(form), "next": "/server"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/server"
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "session" in v
    )
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token != "drl_chosen-by-an-attacker"  # no session fixation
    with shared.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT token_sha256 FROM login_sessions")).all()
        hashes = conn.execute(text("SELECT password_hash FROM users")).scalars().all()
    assert rows and all(token not in row[0] for row in rows)
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    page = client.get("/server")
    assert "alice" in page.text and "Vendor A" in page.text


def test_wrong_passwords_are_refused_then_throttled(shared: SharedPortal) -> None:
    client = shared.client()
    for _ in range(accounts.MAX_FAILURES):
        form = client.get("/login")
        wrong = client.post(
            "/login", data={"login": "bob", "password": "not it at all", "csrf": csrf_of(form)}
        )
        assert wrong.status_code == 401
        assert "wrong login or password" in wrong.text
    form = client.get("/login")
    right = client.post(
        "/login", data={"login": "bob", "password": PASSWORD, "csrf": csrf_of(form)}
    )
    assert right.status_code == 429
    assert "too many failed logins" in right.text
    # another user from another address is not locked out by bob's failures
    shared.login("alice")


def test_the_login_form_needs_its_own_csrf_token(shared: SharedPortal) -> None:
    client = shared.client()
    answer = client.post("/login", data={"login": "alice", "password": PASSWORD, "csrf": "x"})
    assert answer.status_code == 403


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token(
    shared: SharedPortal,
) -> None:
    client = shared.login("root")
    posts = [
        route.path_format
        for route in shared.app.routes
        if isinstance(route, Route)
        and "POST" in (route.methods or ())
        and route.path != "/login"
        and not route.path.startswith("/api/")
    ]
    assert len(posts) >= 15
    for path in posts:
        concrete = (
            path.replace("{scenario_id}", "x").replace("{run_id}", "x").replace("{login}", "bob")
        )
        concrete = concrete.replace("{token_id}", "1")
        for data in ({}, {"csrf": "forged"}):
            answer = client.post(concrete, data=data)
            assert answer.status_code == 403, (concrete, answer.status_code)
    assert client.get("/server").status_code == 200  # still logged in


def test_logout_ends_the_session_on_the_server(shared: SharedPortal) -> None:
    client = shared.login("alice")
    token = client.cookies.get("drimlab_session")
    page = client.get("/")
    assert (
        client.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False).status_code
        == 303
    )
    assert accounts.session_account(shared.store, str(token)) is None
    replay = shared.client()
    replay.cookies.set("drimlab_session", str(token), domain="testserver.local")
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_the_admin_manages_organisations_and_users_and_others_may_not(
    shared: SharedPortal,
) -> None:
    vendor = shared.login("alice")
    assert vendor.get("/admin").status_code == 403
    admin = shared.login("root")
    page = admin.get("/admin")
    assert "Vendor A" in page.text and "monica" in page.text
    made = admin.post(
        "/admin/organisations",
        data={"csrf": csrf_of(page), "name": "Vendor C", "identities": "vendor-c.test\n"},
    )
    assert made.status_code == 200 and "Vendor C" in made.text
    short = admin.post(
        "/admin/users",
        data={
            "csrf": csrf_of(page),
            "login": "carol",
            "password": "short",
            "role": "vendor",
            "organisation": "Vendor C",
        },
    )
    assert short.status_code == 400 and "at least 10 characters" in short.text
    user = admin.post(
        "/admin/users",
        data={
            "csrf": csrf_of(page),
            "login": "carol",
            "password": PASSWORD,
            "role": "vendor",
            "organisation": "Vendor C",
        },
    )
    assert user.status_code == 200 and "user created: carol" in user.text
    carol = shared.login("carol")
    assert "Vendor C" in carol.get("/").text
    off = admin.post("/admin/users/carol/active", data={"csrf": csrf_of(page), "active": "off"})
    assert off.status_code == 200
    assert carol.get("/", follow_redirects=False).status_code == 303  # her session ended
    xss = admin.post(
        "/admin/organisations",
        data={"csrf": csrf_of(page), "name": "<script>alert(1)</script>", "identities": ""},
    )
    assert "<script>alert(1)</script>" not in xss.text
    assert "&lt;script&gt;" in xss.text


def test_personal_api_tokens_are_shown_once_and_stored_as_digests(shared: SharedPortal) -> None:
    client = shared.login("alice")
    page = client.get("/account")
    made = client.post("/account/tokens", data={"csrf": csrf_of(page), "name": "CI"})
    assert made.status_code == 201
    token = made.text.split("<code>drl_", 1)[1].split("</code>", 1)[0]
    token = "drl_" + token
    assert accounts.token_account(shared.store, token) is not None
    with shared.store.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_sha256, prefix FROM api_tokens")).all()
    assert all(token not in row[0] for row in stored) and stored[0][1] == token[:10]
    again = client.get("/account")
    assert token not in again.text


def test_drimlab_admin_makes_the_first_admin_and_organisations(
    default_dataset_copy: object, monkeypatch: object, capsys: object
) -> None:
    import io
    import sys

    assert run(["admin", "create-organisation", "Acme", "--identity", "acme.test"]) == 0
    assert run(["admin", "create-organisation", "Acme"]) == 2  # exists
    setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))  # noqa: B010
    try:
        assert run(["admin", "create-user", "first", "--role", "admin", "--password-stdin"]) == 0
        sys.stdin = io.StringIO("short\n")
        assert (
            run(
                [
                    "admin",
                    "create-user",
                    "x",
                    "--role",
                    "vendor",
                    "--organisation",
                    "Acme",
                    "--password-stdin",
                ]
            )
            == 2
        )
        sys.stdin = io.StringIO("")
        assert run(["admin", "create-user", "y", "--role", "vendor", "--password-stdin"]) == 2
    finally:
        sys.stdin = sys.__stdin__
    assert run(["admin", "create-token", "first", "--name", "CI"]) == 0
    assert run(["admin", "list"]) == 0
