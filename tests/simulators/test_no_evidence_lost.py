"""What the server simulator served is in the store, whatever stops it (real processes).

50 consumers retrieve over loopback from a `drimlab serve` process; each 200 received whole
is matched to its stored exchange by its `X-Request-ID`. An answer cut by the stop is checked
in-process, with a short grace period.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import subprocess
import threading

import pytest

from drimlab.config import Settings
from drimlab.facts.decision import Cause
from drimlab.simulators.index import CatalogIndex
from drimlab.simulators.recording import Recorder
from drimlab.simulators.runner import free_port, serve_in_thread
from drimlab.simulators.source import SourceConfig, make_app, with_faults
from drimlab.store import open_store
from drimlab.store.journal import Journal, journal_dir, read_journal
from drimlab.store.records import load_exchange
from drimlab.tokens import TokenIssuer, TokenVerifier
from tests.simulators.serving import (
    DRIMLAB,
    Load,
    serve,
    smallest_instance,
    stop_with,
    stopped_count,
    stored,
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_under_load_stores_every_exchange_served_and_counts_them(
    default_dataset_copy: Settings, sig: signal.Signals
) -> None:
    home = default_dataset_copy.home
    target = smallest_instance(default_dataset_copy)
    before = stored(home / "drimlab.db")
    port = free_port()
    serving = serve(home, port)
    load = Load(port, target)
    try:
        serving.wait_for("serving")
        load.start()
        load.wait_served(200)
        code = stop_with(serving, sig)
    finally:
        load.stop()
        serving.kill()
    output = serving.output
    assert code == 0, output
    assert f"drimlab: {sig.name}: finishing the requests in flight" in output
    after = stored(home / "drimlab.db")
    new = {i: s for i, s in after.items() if i not in before}
    missing = [i for i in load.served if i not in new]
    assert missing == [], f"{len(missing)} of {len(load.served)} served exchanges not stored"
    assert all(new[i] == 200 for i in load.served)
    assert stopped_count(output) == len(new), output  # the printed count is the true one
    assert "left in the journal" not in output
    assert list((home / "journal").glob("*.journal")) == []


def test_kill_9_loses_only_what_was_in_flight_and_recovers_it_as_incomplete(
    default_dataset_copy: Settings,
) -> None:
    home = default_dataset_copy.home
    target = smallest_instance(default_dataset_copy)
    port = free_port()
    serving = serve(home, port)
    load = Load(port, target)
    try:
        serving.wait_for("serving")
        load.start()
        load.wait_served(200)
        serving.process.kill()  # SIGKILL: no handler, no drain
        serving.finish()
    finally:
        load.stop()
        serving.kill()
    journals = list((home / "journal").glob("*.journal"))
    assert len(journals) == 1
    entries = read_journal(journals[0])
    waiting = [e for e in entries if not e.stored]
    begun_only = [e for e in waiting if not e.ended]
    assert len(begun_only) <= load.consumers  # at most one request in flight per consumer

    recover = subprocess.run(
        [DRIMLAB, "exchanges", "recover"],
        env={"DRIMLAB_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert recover.returncode == 0, recover.stderr
    assert f"{len(begun_only)} incomplete" in recover.stdout, recover.stdout

    after = stored(home / "drimlab.db")
    assert [i for i in load.served if i not in after] == []
    assert {e.id for e in entries} <= set(after)  # every request received is in the store
    for entry in begun_only:
        assert after[entry.id] is None  # incomplete: no response recorded
    assert list((home / "journal").glob("*.journal")) == []
    again = subprocess.run(
        [DRIMLAB, "exchanges", "recover"],
        env={"DRIMLAB_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "no journal left" in again.stdout


def test_the_next_start_recovers_a_journal_left_behind(default_dataset_copy: Settings) -> None:
    home = default_dataset_copy.home
    target = smallest_instance(default_dataset_copy)
    port = free_port()
    serving = serve(home, port)
    load = Load(port, target, consumers=5)
    try:
        serving.wait_for("serving")
        load.start()
        load.wait_served(20)
        serving.process.kill()
        serving.finish()
    finally:
        load.stop()
        serving.kill()
    [journal] = list((home / "journal").glob("*.journal"))
    waiting = {e.id for e in read_journal(journal) if not e.stored}
    again = serve(home, port)
    try:
        found = again.wait_for(r"recovered (\d+) exchange\(s\) from 1 journal")
        again.wait_for("serving")
        assert stop_with(again, signal.SIGTERM) == 0
    finally:
        again.kill()
    assert int(found.group(1)) <= len(waiting)  # the others were stored, their marker lost
    after = stored(home / "drimlab.db")
    assert [i for i in load.served if i not in after] == []
    assert waiting <= set(after)
    assert list((home / "journal").glob("*.journal")) == []


def test_status_of_the_store_is_served(default_dataset_copy: Settings) -> None:
    port = free_port()
    serving = serve(default_dataset_copy.home, port)
    try:
        serving.wait_for("serving")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/drimlab/status")
        response = connection.getresponse()
        status = json.loads(response.read())
        connection.close()
        assert response.status == 200
        assert status["writable"] is True and status["stopping"] is False
        assert stop_with(serving, signal.SIGINT) == 0
    finally:
        serving.kill()


def test_a_second_signal_stops_at_once_and_the_journal_keeps_the_rest(
    default_dataset_copy: Settings,
) -> None:
    home = default_dataset_copy.home
    target = smallest_instance(default_dataset_copy)
    port = free_port()
    serving = serve(home, port)
    load = Load(port, target)
    try:
        serving.wait_for("serving")
        load.start()
        load.wait_served(100)
        serving.process.send_signal(signal.SIGTERM)
        serving.wait_for("drimlab: SIGTERM: finishing")
        serving.process.send_signal(signal.SIGTERM)  # not caught any more: the process ends
        serving.finish()
    finally:
        load.stop()
        serving.kill()
    subprocess.run(
        [DRIMLAB, "exchanges", "recover"],
        env={"DRIMLAB_HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=300,
        check=True,
    )
    after = stored(home / "drimlab.db")
    assert [i for i in load.served if i not in after] == []
    assert list((home / "journal").glob("*.journal")) == []


def test_an_answer_cut_by_the_stop_is_recorded_with_what_was_sent(
    default_dataset_copy: Settings,
) -> None:
    store = open_store(default_dataset_copy)
    issuer = TokenIssuer.open(default_dataset_copy)
    index = CatalogIndex(store)
    recorder = Recorder(store, index, journal=Journal(journal_dir(store)))
    verifier = TokenVerifier(issuer.jwks(), issuer=issuer.issuer_url)
    app = make_app(index, with_faults(SourceConfig(verifier=verifier), ["slow"]), recorder)
    exam = next(e for e in index.snapshot.exams.values() if e.kos is not None)
    assert exam.kos is not None  # a series takes seconds at the slow fault's 64 KiB/s
    series = index.series_of(exam.study_instance_uid)[0]
    path = f"/dicom-web/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
    kos = exam.kos.sop_instance_uid
    headers = {"Authorization": f"Bearer {issuer.issue()}", "KOS-SOPInstanceUID": kos}
    started = threading.Event()
    answer: dict[str, str] = {}

    def retrieve(port: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        answer["id"] = str(response.getheader("X-Request-ID"))
        response.read(1024)
        started.set()
        with contextlib.suppress(OSError, http.client.HTTPException):
            response.read()  # until the stop cuts it
        connection.close()

    try:
        with serve_in_thread(app, shutdown_timeout=0.5) as server:
            client = threading.Thread(target=retrieve, args=(server.port,))
            client.start()
            assert started.wait(30)
        client.join(30)
    finally:
        recorder.close()
    exchange = load_exchange(store, answer["id"])
    assert exchange.status == 200
    assert exchange.decision is not None
    assert exchange.decision.cause is Cause.SHUTTING_DOWN, exchange.decision
    assert list(journal_dir(store).glob("*.journal")) == []
    store.close()
