"""dicomweb-client over mutual TLS -> the recording proxy -> nginx (mutual TLS) -> Orthanc.

Through the proxy the retrieval gives exactly what it gives directly (SOP Instance UIDs and
pixel data), each exchange is stored with origin `proxy`, its report holds Orthanc's
documented deviations (docs/orthanc-deviations.md) and nothing else on the response side, and
each direction's count and SHA-256 are the same as received and as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session

from drimlab.config import Settings
from drimlab.facts.relay import RelayEnd
from drimlab.proxy.config import Identity, ProxyConfig, Upstream
from drimlab.proxy.server import RunningProxy, proxy_in_thread
from drimlab.store import Store, open_store
from drimlab.store.records import load_exchange
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.process import free_port
from drimlab.validation.assess import Selection
from drimlab.validation.findings import Severity
from tests.peers.conftest import LoadedStudy, PeerPki
from tests.peers.test_orthanc_capture import ORTHANC_DEVIATIONS

pytestmark = pytest.mark.peer

# Through nginx the body comes chunked and with HSTS: these two deviations are not seen.
BEHIND_NGINX = set(ORTHANC_DEVIATIONS) - {"WADO-RS-008", "DRIM-021"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    home = tmp_path_factory.mktemp("proxy-orthanc")
    opened = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def recording(proxy: MtlsProxy, test_pki: PeerPki, store: Store) -> Iterator[RunningProxy]:
    """The recording proxy in front of nginx: the same PKI on both legs, judged as DICOMweb."""
    config = ProxyConfig(
        upstream=Upstream("https", "localhost", proxy.port),
        listen=Identity(test_pki.server_cert, test_pki.server_key, test_pki.ca),
        client=Identity(test_pki.client_cert, test_pki.client_key, test_pki.ca),
        port=free_port(),
        selection=Selection.of("dicomweb"),
    )
    with proxy_in_thread(config, store) as running:
        yield running


def _client(base: str, pki: PeerPki, sessions: ExitStack) -> DICOMwebClient:
    session = sessions.enter_context(create_session())
    session.trust_env = False
    session.verify = str(pki.ca)
    session.cert = (str(pki.client_cert), str(pki.client_key))
    return DICOMwebClient(url=base, session=session)


def test_retrieval_through_the_proxy_is_the_direct_retrieval_recorded(
    proxy: MtlsProxy,
    recording: RunningProxy,
    orthanc_study: LoadedStudy,
    test_pki: PeerPki,
    store: Store,
) -> None:
    with ExitStack() as sessions:
        direct = _client(f"{proxy.url}/dicom-web", test_pki, sessions)
        proxied = _client(f"https://localhost:{recording.port}/dicom-web", test_pki, sessions)
        _retrieve_both(direct, proxied, orthanc_study)
    _check_recorded(recording, orthanc_study, store)


def _retrieve_both(
    direct: DICOMwebClient, proxied: DICOMwebClient, orthanc_study: LoadedStudy
) -> None:
    for series_uid, sops in orthanc_study.series.items():
        mine = list(direct.retrieve_series(orthanc_study.study_uid, series_uid))
        relayed = list(proxied.retrieve_series(orthanc_study.study_uid, series_uid))
        assert sorted(ds.SOPInstanceUID for ds in relayed) == sorted(sops)
        by_uid = {ds.SOPInstanceUID: ds for ds in mine}
        for ds in relayed:
            assert ds.PixelData == by_uid[ds.SOPInstanceUID].PixelData
    sop = orthanc_study.series[next(iter(orthanc_study.series))][0]
    series_uid = next(iter(orthanc_study.series))
    instance = proxied.retrieve_instance(orthanc_study.study_uid, series_uid, sop)
    assert instance.SOPInstanceUID == sop


def _check_recorded(recording: RunningProxy, orthanc_study: LoadedStudy, store: Store) -> None:
    count = len(orthanc_study.series) + 1
    assert recording.recorder.wait_for(count, timeout=60)
    recorded = recording.recorder.recorded
    assert len(recorded) == count
    for item in recorded:
        assert item.report is not None and item.exchange_id is not None, item.failure
        stored = load_exchange(store, item.exchange_id)
        assert stored.origin == "proxy" and stored.status == 200
        relay = stored.relay
        assert relay is not None and relay.ended is RelayEnd.COMPLETE
        assert relay.request.identical and relay.response.identical
        assert stored.tls is not None and stored.upstream_tls is not None
        assert stored.upstream_tls.peer is not None
        assert stored.upstream_tls.peer.common_name == "localhost"
        response_side = {
            f.rule
            for f in item.report.findings
            if f.severity is not Severity.INFO and not f.rule.startswith("WADO-RQ")
        }
        assert response_side <= BEHIND_NGINX, sorted(response_side - BEHIND_NGINX)
        assert "WADO-RS-031" in response_side  # Orthanc's parts name no transfer syntax
        assert len(stored.parts) >= 1
    assert recording.recorder.failures == []
