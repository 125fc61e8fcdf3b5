"""The server simulator's trust state is live: revocations, new lists and time all count."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.simulators.serve import SourceOptions, source_in_thread
from drimlab.store import open_store
from drimlab.trust.live import StalePolicy
from drimlab.validation.findings import Severity

EIGHT_DAYS = timedelta(days=8)


@contextmanager
def _source(
    settings: Settings, before: Callable[[BenchEnvironment], None] | None = None, **options: Any
) -> Iterator[tuple[Any, Any, Any, list[str]]]:
    store = open_store(settings)
    env = BenchEnvironment.prepare(store, settings)
    if before is not None:
        before(env)
    said: list[str] = []
    try:
        with source_in_thread(
            store, env, SourceOptions(port=0, crl_port=None, **options), notify=said.append
        ) as (setup, server):
            yield env, setup, server, said
    finally:
        store.close()


def _get(env: BenchEnvironment, setup: Any, server: Any, name: str = CONSUMER_CERT):
    exam = next(iter(setup.index.snapshot.exams.values()))
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(env.pki.bundle_path)
        session.cert = (str(env.pki.chain_path(name)), str(env.pki.key_path(name)))
        return session.get(
            f"https://localhost:{server.port}/dicom-web/studies/{exam.study_instance_uid}",
            headers={
                "Authorization": f"Bearer {env.issuer.issue()}",
                "KOS-SOPInstanceUID": exam.kos.sop_instance_uid,
            },
            timeout=60,
        )


def _until(check: Callable[[], bool], seconds: float = 10) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        time.sleep(0.1)
    return time.monotonic() - started


def _last_report(setup: Any, count: int):
    assert setup.recorder.wait_for(count, timeout=60)
    return setup.recorder.recorded[count - 1].report


def test_a_certificate_revoked_while_serving_is_refused_at_once(default_dataset_copy) -> None:
    with _source(default_dataset_copy) as (env, setup, server, said):
        assert _get(env, setup, server).status_code == 200
        home = str(default_dataset_copy.home)
        assert run(["--home", home, "pki", "revoke", CONSUMER_CERT]) == 0
        waited = _until(lambda: _get(env, setup, server).status_code == 403)
        assert waited < 5
        answer = _get(env, setup, server)
        assert answer.json()["cause"] == "certificate-revoked"
        assert setup.recorder.wait_for(3, timeout=60)
        refused = [r.report for r in setup.recorder.recorded if r.report.verdict.value == "FAILED"]
        assert refused and "TLS-005" in {f.rule for f in refused[-1].findings}
        assert any("CRL reloaded" in line for line in said)


def test_a_re_signed_whitelist_counts_from_the_next_request(default_dataset_copy) -> None:
    with _source(default_dataset_copy) as (env, setup, server, said):
        assert _get(env, setup, server).status_code == 200
        home = str(default_dataset_copy.home)
        assert run(["--home", home, "whitelist", "make", "--include", "source"]) == 0
        answer = _get(env, setup, server)
        assert answer.status_code == 403
        assert answer.json()["cause"] == "certificate-not-listed"
        assert any("whitelist reloaded" in line for line in said)


def test_eight_days_later_the_bench_has_re_signed_its_crl(default_dataset_copy) -> None:
    later = datetime.now(UTC) + EIGHT_DAYS
    with _source(default_dataset_copy, clock=lambda: later) as (env, setup, server, _):
        assert _get(env, setup, server).status_code == 200
        report = _last_report(setup, 1)
        assert report.verdict.value == "PASSED"
        assert "TLS-008" not in {f.rule for f in report.findings}
        crl = env.revocation_list()
        assert crl.next_update is not None and crl.next_update > later
        assert crl.this_update <= later


@pytest.mark.parametrize(
    ("policy", "status", "severity"),
    [(StalePolicy.REFUSE, 403, Severity.ERROR), (StalePolicy.WARN, 200, Severity.WARNING)],
)
def test_a_crl_the_bench_cannot_sign_goes_stale_loudly(
    default_dataset_copy, policy: StalePolicy, status: int, severity: Severity
) -> None:
    def lose_the_ca_key(env: BenchEnvironment) -> None:
        # without the CA key the bench cannot re-sign: as with another PKI's CRL
        env.pki.key_path("organisations").unlink()

    later = datetime.now(UTC) + EIGHT_DAYS
    options = {"clock": lambda: later, "stale_crl": policy}
    with _source(default_dataset_copy, lose_the_ca_key, **options) as (env, setup, server, said):
        answer = _get(env, setup, server)
        assert answer.status_code == status
        report = _last_report(setup, 1)
        stale = [f for f in report.findings if f.rule == "TLS-008"]
        assert stale and stale[0].severity is severity and "stale" in stale[0].message
        assert any("cannot re-sign the CRL" in line for line in said)
        announced = [line for line in said if "is stale since" in line]
        assert len(announced) == 1
        _get(env, setup, server)
        assert len([line for line in said if "is stale since" in line]) == 1  # said once
