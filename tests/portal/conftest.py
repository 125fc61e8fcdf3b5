"""A portal over a private copy of the default dataset: in-process (TestClient) or served."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from drimlab.config import Settings
from drimlab.portal import Portal, SimulatorLink, create_app
from drimlab.portal.serve import build_portal
from drimlab.store import Store, open_store


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
