"""A portal over a private copy of the default dataset: in-process (TestClient) or served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from drimlab.config import Settings
from drimlab.portal import Portal, SimulatorLink, create_app
from drimlab.portal.serve import build_portal
from drimlab.store import Store, accounts, open_store


@dataclass
class PortalUnderTest:
    portal: Portal
    client: TestClient
    store: Store
    settings: Settings


@pytest.fixture
def portal(default_dataset_copy: Settings) -> Iterator[PortalUnderTest]:
    store = open_store(default_dataset_copy)
    link = SimulatorLink(base_url="https://localhost:1/dicom-web")
    built = build_portal(store, default_dataset_copy, link)
    built.upload_limit = 8 * 1024 * 1024
    with TestClient(create_app(built), headers={"Accept-Language": "en"}) as client:
        yield PortalUnderTest(built, client, store, default_dataset_copy)
    store.close()


PASSWORD = "a long test password"


@dataclass
class SharedPortal:
    """A portal with accounts on: organisations A and B, a vendor of each, a monitor, an admin."""

    portal: Portal
    app: Any
    store: Store
    settings: Settings

    def client(self) -> TestClient:
        return TestClient(
            self.app, base_url="https://testserver", headers={"Accept-Language": "en"}
        )

    def login(self, login: str, password: str = PASSWORD) -> TestClient:
        client = self.client()
        client.get("/login")
        answer = client.post(
            "/login",
            data={"login": login, "password": password, "csrf": csrf_of(client.get("/login"))},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return client


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


@pytest.fixture
def shared(default_dataset_copy: Settings) -> Iterator[SharedPortal]:
    store = open_store(default_dataset_copy)
    link = SimulatorLink(base_url="https://localhost:1/dicom-web")
    built = build_portal(store, default_dataset_copy, link)
    built.upload_limit = 8 * 1024 * 1024
    built.accounts = True
    accounts.create_organisation(store, "Vendor A", ("consumer.vendor-a.test",))
    accounts.create_organisation(store, "Vendor B", ("CN=consumer.vendor-b.test",))
    accounts.create_user(store, "alice", PASSWORD, "vendor", "Vendor A")
    accounts.create_user(store, "bob", PASSWORD, "vendor", "Vendor B")
    accounts.create_user(store, "monica", PASSWORD, "monitor")
    accounts.create_user(store, "root", PASSWORD, "admin")
    app = create_app(built)
    with TestClient(app, base_url="https://testserver"):
        yield SharedPortal(built, app, store, default_dataset_copy)
    store.close()
