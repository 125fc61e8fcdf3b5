"""Retention: `purge` removes what is older than N days, except what a scenario run holds,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.exchange import Exchange
from drimlab.store import Store, open_store, retention
from drimlab.store.background import create_job, finish_job
from drimlab.store.models import BackgroundJob, ExchangeRecord, ReportRecord, utcnow
from drimlab.store.records import save_exchange, save_exchange_and_report, save_report
from drimlab.store.retention import purge
from drimlab.store.reviews import record_review
from drimlab.store.scenario_runs import StepEntry, insert_run, update_step_row
from drimlab.testing.postgres import PostgresServer
from drimlab.validation.engine import validate_request

OLD = timedelta(days=40)
_NAMES = itertools.count()


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    home = tmp_path / "home"
    monkeypatch.setenv("DRIMLAB_HOME", str(home))
    if request.param == "postgresql":
        server = request.getfixturevalue("pg_server")
        url = server.create_database(f"retention_{next(_NAMES)}")
        monkeypatch.setenv("DRIMLAB_DATABASE_URL", url)
    else:
        monkeypatch.delenv("DRIMLAB_DATABASE_URL", raising=False)
    opened = open_store(Settings.from_env())
    yield opened
    opened.close()


def _exchange(body: bytes) -> Exchange:
    return Exchange(
        method="GET",
        target="/dicom-web/studies/1.2.3",
        request_headers=(("Host", "x"),),
        status=200,
        response_body=body,
        origin="client",
    )


def _age(store: Store, *, exchanges: Sequence[str] = (), reports: Sequence[str] = ()) -> None:
    """Make rows (and their body files) look 40 days old."""
    past = utcnow() - OLD
    with store.session() as session:
        session.execute(
            update(ExchangeRecord).where(ExchangeRecord.id.in_(exchanges)).values(created_at=past)
        )
        session.execute(
            update(ReportRecord).where(ReportRecord.id.in_(reports)).values(created_at=past)
        )
        paths = session.scalars(
            select(ExchangeRecord.response_body_path).where(ExchangeRecord.id.in_(exchanges))
        ).all()
    for path in paths:
        os.utime(store.settings.home / str(path), (past.timestamp(), past.timestamp()))


def _saved(store: Store, body: bytes) -> tuple[str, str]:
    exchange = _exchange(body)
    return save_exchange_and_report(store, exchange, validate_request(exchange))


def _run_holding(store: Store, exchange_ids: list[str], report_ids: list[str]) -> str:
    run_id = insert_run(
        store,
        scenario_id="DRIM-M_CO_REQUETE_WADO",
        scenario_sha256="0" * 64,
        mode="auto",
        status="done",
        language="en",
        inputs={},
        study_uid=None,
        kos_uid=None,
        steps=[StepEntry("retrieve", "VALIDATION", "done")],
    )
    update_step_row(store, run_id, 0, exchange_ids=exchange_ids, report_ids=report_ids)
    return run_id


def _ids(store: Store, model: type[ExchangeRecord] | type[ReportRecord]) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(model.id)))


def test_old_exchanges_go_with_their_files_and_what_a_run_holds_stays(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = any_store
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches, several transactions
    home = store.settings.home
    old, old_report = _saved(store, b"old body")
    held, held_report = _saved(store, b"held body")
    reviewed, _r = _saved(store, b"reviewed body")
    via_report, via_report_report = _saved(store, b"named by its report")
    shared_old, _s = _saved(store, b"shared body")
    shared_new, _n = _saved(store, b"shared body")  # the same file, recent
    recent, recent_report = _saved(store, b"recent body")
    lone = save_report(store, validate_request(_exchange(b"")), kind="kos")
    lone_held = save_report(store, validate_request(_exchange(b"")), kind="kos")
    aged = [old, held, reviewed, via_report, shared_old]
    _age(store, exchanges=aged, reports=[old_report, held_report, lone, lone_held])
    _run_holding(store, [held], [held_report, lone_held])
    run_id = _run_holding(store, [reviewed], [])
    record_review(store, run_id, None, "VERIFIED", "fine")
    _run_holding(store, [], [via_report_report])
    old_file = home / "bodies" / _sha("old body")

    dry = purge(store, store.settings, timedelta(days=30), dry_run=True)
    assert (dry.exchanges.count, dry.reports.count) == (2, 3)  # old, shared_old; 2 + lone
    assert old in _ids(store, ExchangeRecord) and old_file.exists()  # a dry run removes nothing

    done = purge(store, store.settings, timedelta(days=30))
    assert (done.exchanges.count, done.reports.count) == (2, 3)
    assert done.exchanges.bytes == len(b"old body")  # the shared file is still in use
    left = _ids(store, ExchangeRecord)
    assert old not in left and shared_old not in left
    assert {held, reviewed, via_report, shared_new, recent} <= left
    reports = _ids(store, ReportRecord)
    assert old_report not in reports and lone not in reports
    assert {held_report, lone_held, via_report_report, recent_report} <= reports
    assert not old_file.exists()
    assert (home / "bodies" / _sha("shared body")).exists()
    assert (home / "bodies" / _sha("held body")).exists()
    assert any("exchanges: removed 2" in line for line in done.lines())
    again = purge(store, store.settings, timedelta(days=30))
    assert again.exchanges.count == 0 and again.reports.count == 0


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_finished_jobs_and_old_uploads_are_removed_with_their_folders(any_store: Store) -> None:
    store = any_store
    home = store.settings.home
    folders = {}
    for name in ("finished", "queued", "loose"):
        folder = home / "uploads" / "validations" / name
        folder.mkdir(parents=True)
        (folder / "input.http").write_bytes(b"x" * 10)
        folders[name] = folder
    finished = create_job(store, "validation", None, {"folder": "uploads/validations/finished"})
    finish_job(store, finished, error="failed at once")
    create_job(store, "validation", None, {"folder": "uploads/validations/queued"})
    past = utcnow() - OLD
    with store.session() as session:
        session.execute(update(BackgroundJob).values(created_at=past))
        session.execute(
            update(BackgroundJob)
            .where(BackgroundJob.finished_at.is_not(None))
            .values(finished_at=past)
        )
    for folder in folders.values():
        os.utime(folder, (past.timestamp(), past.timestamp()))
    done = purge(store, store.settings, timedelta(days=30))
    assert (done.jobs.count, done.jobs.bytes) == (1, 10)
    assert (done.uploads.count, done.uploads.bytes) == (1, 10)  # the loose one
    assert not folders["finished"].exists() and not folders["loose"].exists()
    assert folders["queued"].exists()  # its job still needs it


def test_admin_purge_prints_one_line_per_kind(
    store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    old = save_exchange(store, _exchange(b"old body"))
    _age(store, exchanges=[old])
    home = ["--home", str(settings.home)]
    assert run([*home, "admin", "purge", "--older-than", "30", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "exchanges: would remove 1 (8 bytes on disk)" in out
    assert old in _ids(store, ExchangeRecord)
    assert run([*home, "admin", "purge"]) == 2  # no retention period set
    assert "DRIMLAB_RETENTION_DAYS" in capsys.readouterr().err
    assert run([*home, "admin", "purge", "--older-than", "30"]) == 0
    assert "exchanges: removed 1 (8 bytes on disk)" in capsys.readouterr().out
    assert old not in _ids(store, ExchangeRecord)
