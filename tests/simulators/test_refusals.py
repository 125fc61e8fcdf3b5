"""Verdict truth: every refusal of the server simulator is stored with an error naming its cause.

A consumer under test talks to the simulator over real mutual TLS; each refusal (the token,
the KOS, the client certificate after the handshake, the handshake itself, and the consumer's
own refusal of the bench's certificate) must give a FAILED report whose error says why and
what to change, never PASSED.
"""

from __future__ import annotations

import shutil
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from drimlab.config import Settings
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.simulators.recording import Recorded
from drimlab.simulators.runner import RunningServer
from drimlab.simulators.serve import SourceOptions, SourceSetup, source_in_thread
from drimlab.store import Store, open_store
from drimlab.store.records import load_exchange, load_report
from drimlab.tokens import TokenIssuer
from drimlab.trust.tls import client_context
from drimlab.validation.findings import Severity
from drimlab.validation.report import Verdict


@dataclass
class Source:
    env: BenchEnvironment
    setup: SourceSetup
    server: RunningServer
    store: Store
    home: Path

    def exam(self, index: int = 0) -> tuple[str, str, str]:
        """Study UID, a series UID and the KOS UID of the index-th exam."""
        exams = list(self.setup.index.snapshot.exams.values())
        exam = exams[index]
        assert exam.kos is not None
        series = self.setup.index.series_of(exam.study_instance_uid)[0]
        return exam.study_instance_uid, series.series_instance_uid, exam.kos.sop_instance_uid

    def url(self, study: str, series: str) -> str:
        return f"https://localhost:{self.server.port}/dicom-web/studies/{study}/series/{series}"

    def session(self, name: str = CONSUMER_CERT) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.env.pki.bundle_path)
        session.cert = (str(self.env.pki.chain_path(name)), str(self.env.pki.key_path(name)))
        return session

    def next_recorded(self, before: int) -> Recorded:
        assert self.setup.recorder.wait_for(before + 1, timeout=60)
        assert not self.setup.recorder.failures, self.setup.recorder.failures
        return self.setup.recorder.recorded[before]


@pytest.fixture(scope="module")
def source(default_dataset: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    home = tmp_path_factory.mktemp("refusals") / "home"
    shutil.copytree(default_dataset.home, home)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    with source_in_thread(store, env, SourceOptions(port=0, crl_port=None)) as (setup, server):
        yield Source(env, setup, server, store, home)
    store.close()


def _refused(source: Source, before: int, status: int, code: str, *needles: str) -> None:
    """The next recorded exchange is a refusal with `status`, FAILED by `code` naming the cause."""
    recorded = source.next_recorded(before)
    exchange = load_exchange(source.store, recorded.exchange_id)
    assert exchange.status == status
    assert exchange.decision is not None and exchange.decision.refused
    report = load_report(source.store, recorded.report_id)
    assert report.verdict is Verdict.FAILED
    errors = [f for f in report.findings if f.rule == code and f.severity is Severity.ERROR]
    assert errors, [(f.rule, f.message) for f in report.findings]
    for needle in needles:
        assert needle in errors[0].message, errors[0].message


def _get(source: Source, headers: dict[str, str], name: str = CONSUMER_CERT) -> int:
    study, series, _ = source.exam()
    with source.session(name) as session:
        return session.get(source.url(study, series), headers=headers, timeout=60).status_code


def test_a_good_request_passes(source: Source) -> None:
    _, _, kos = source.exam()
    before = len(source.setup.recorder.recorded)
    token = source.env.issuer.issue()
    assert _get(source, {"Authorization": f"Bearer {token}", "KOS-SOPInstanceUID": kos}) == 200
    recorded = source.next_recorded(before)
    assert recorded.report.verdict is Verdict.PASSED
    assert {"REFUSAL-001", "REFUSAL-002", "REFUSAL-003"} <= set(recorded.report.rules_checked)


@pytest.mark.parametrize(
    ("token", "cause"),
    [
        (None, "token-missing"),
        ("garbage", "token-malformed"),
        ("expired", "token-expired"),
        ("other-issuer", "token-unknown-key"),
    ],
)
def test_token_refusals_fail_with_their_cause(
    source: Source, tmp_path: Path, token: str | None, cause: str
) -> None:
    _, _, kos = source.exam()
    headers = {"KOS-SOPInstanceUID": kos}
    if token == "expired":
        headers["Authorization"] = f"Bearer {source.env.issuer.issue(lifetime=-3600)}"
    elif token == "other-issuer":
        # a token of another data home: same issuer name, another signing key
        other = TokenIssuer.open(Settings(home=tmp_path, database_url="sqlite://"))
        headers["Authorization"] = f"Bearer {other.issue()}"
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    before = len(source.setup.recorder.recorded)
    assert _get(source, headers) == 401
    _refused(source, before, 401, "REFUSAL-001", cause, "drimlab token issue")


def test_error_answers_name_the_cause_without_library_internals(source: Source) -> None:
    study, series, kos = source.exam()
    headers = {"Authorization": "Bearer not.a-jwt", "KOS-SOPInstanceUID": kos}
    before = len(source.setup.recorder.recorded)
    with source.session() as session:
        answer = session.get(source.url(study, series), headers=headers, timeout=60)
    assert answer.status_code == 401
    body = answer.json()
    assert body["cause"] == "token-malformed"
    assert body["error"].startswith("malformed token: ")
    assert "Error" not in body["error"] and "Traceback" not in answer.text
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    _refused(source, before, 401, "REFUSAL-001", "token-malformed")


def test_unknown_kos_fails_with_its_cause(source: Source) -> None:
    headers = {
        "Authorization": f"Bearer {source.env.issuer.issue()}",
        "KOS-SOPInstanceUID": "2.25.4242424242",
    }
    before = len(source.setup.recorder.recorded)
    assert _get(source, headers) == 404
    _refused(source, before, 404, "REFUSAL-002", "kos-unknown", "2.25.4242424242")


def test_kos_of_another_study_fails_with_its_cause(source: Source) -> None:
    _, _, other_kos = source.exam(1)
    headers = {
        "Authorization": f"Bearer {source.env.issuer.issue()}",
        "KOS-SOPInstanceUID": other_kos,
    }
    before = len(source.setup.recorder.recorded)
    assert _get(source, headers) == 404
    _refused(source, before, 404, "REFUSAL-002", "kos-other-study")


@pytest.mark.parametrize(
    ("name", "cause", "observed"),
    [
        ("unlisted", "certificate-not-listed", "WL-020"),
        ("revoked", "certificate-revoked", "TLS-005"),
    ],
)
def test_certificate_refusals_after_the_handshake(
    source: Source, name: str, cause: str, observed: str
) -> None:
    _, _, kos = source.exam()
    headers = {"Authorization": f"Bearer {source.env.issuer.issue()}", "KOS-SOPInstanceUID": kos}
    before = len(source.setup.recorder.recorded)
    assert _get(source, headers, name) == 403
    _refused(source, before, 403, "REFUSAL-003", cause)
    report = source.setup.recorder.recorded[before].report
    # the observation itself is judged too, by the rule that names the fault
    assert observed in {f.rule for f in report.findings}
    exchange = load_exchange(source.store, source.setup.recorder.recorded[before].exchange_id)
    assert exchange.tls is not None and exchange.tls.peer is not None
    assert exchange.tls.peer.subject == source.env.pki.entry(name).subject
    assert exchange.tls.peer_address is not None


def _handshake(source: Source, context: ssl.SSLContext) -> None:
    with socket.create_connection(("127.0.0.1", source.server.port), timeout=30) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /dicom-web/studies/1.2.3 HTTP/1.1\r\nHost: localhost\r\n\r\n")
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass


def test_rogue_client_certificate_is_a_refused_handshake_blaming_the_client(
    source: Source,
) -> None:
    pki = source.env.pki
    before = len(source.setup.recorder.recorded)
    _handshake(
        source, client_context(pki.chain_path("rogue"), pki.key_path("rogue"), pki.bundle_path)
    )
    recorded = source.next_recorded(before)
    assert recorded.report.facts["kind"] == "handshake"
    assert recorded.report.verdict is Verdict.FAILED
    assert [f.rule for f in recorded.report.findings] == ["TLS-002"]
    assert "the bench refused the handshake" in recorded.report.findings[0].message
    exchange = load_exchange(source.store, recorded.exchange_id)
    assert exchange.tls is not None and exchange.tls.handshake is not None
    assert exchange.tls.handshake.refused_by.value == "bench"
    assert exchange.tls.peer_address is not None and exchange.tls.peer_address.startswith("127.")


def test_a_consumer_refusing_the_bench_certificate_is_reported_as_such(source: Source) -> None:
    # The consumer trusts only a look-alike CA: it refuses the bench's genuine server certificate.
    pki = source.env.pki
    context = client_context(
        pki.chain_path(CONSUMER_CERT), pki.key_path(CONSUMER_CERT), pki.cert_path("rogue-root")
    )
    before = len(source.setup.recorder.recorded)
    _handshake(source, context)
    recorded = source.next_recorded(before)
    report = recorded.report
    assert report.verdict is Verdict.FAILED
    codes = [f.rule for f in report.findings]
    assert codes == ["TLS-014"], [(f.rule, f.message) for f in report.findings]
    message = report.findings[0].message
    assert "the consumer refused the bench's server certificate" in message
    assert str(pki.bundle_path) in message  # what to trust
    assert "TLS-002" not in codes  # the consumer's certificate is not to blame
