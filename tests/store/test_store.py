"""The store: migrations, WAL mode, several processes, data kept across upgrades."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from sqlalchemy import inspect, select

from drimlab.config import Settings
from drimlab.errors import StoreError
from drimlab.store import open_store
from drimlab.store.models import Exam, ExchangeRecord, ReportRecord


def test_migrate_creates_every_table(store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"exams", "series", "instances", "instance_files", "kos", "exchanges", "reports"} <= (
        tables
    )
    assert "alembic_version" in tables


def test_sqlite_runs_in_wal_mode(store, settings: Settings) -> None:
    with sqlite3.connect(settings.home / "drimlab.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrating_again_keeps_rows(store, settings: Settings) -> None:
    with store.session() as s:
        s.add(
            Exam(
                name="e1", dataset="t", origin="synthetic", study_instance_uid="1.2.3", root_dir="x"
            )
        )
    store.close()
    again = open_store(settings)
    with again.session() as s:
        assert s.scalars(select(Exam.name)).all() == ["e1"]
    again.close()


def test_failed_unit_of_work_leaves_nothing(store) -> None:
    with pytest.raises(RuntimeError), store.session() as s:
        s.add(
            Exam(
                name="e2", dataset="t", origin="synthetic", study_instance_uid="1.2.4", root_dir="x"
            )
        )
        s.flush()
        raise RuntimeError("interrupted")
    with store.session() as s:
        assert s.scalars(select(Exam)).all() == []


def test_exchange_and_report_round_trip(store) -> None:
    with store.session() as s:
        ex = ExchangeRecord(
            id="a" * 36,
            origin="file",
            method="GET",
            target="/studies/1.2",
            request_headers=[["Accept", "*/*"]],
        )
        s.add(ex)
        s.add(
            ReportRecord(
                id="b" * 36,
                exchange_id=ex.id,
                kind="request",
                subject="x",
                profile="drim-m",
                verdict="PASSED",
                data={"verdict": "PASSED"},
            )
        )
    with store.session() as s:
        got = s.get(ExchangeRecord, "a" * 36)
        assert got is not None
        assert got.request_headers == [["Accept", "*/*"]]
        assert [r.verdict for r in got.reports] == ["PASSED"]


def _open_and_write(home: str, index: int) -> None:
    settings = Settings.from_env({"DRIMLAB_HOME": home})
    st = open_store(settings)
    with st.session() as s:
        s.add(
            Exam(
                name=f"p{index}",
                dataset="t",
                origin="synthetic",
                study_instance_uid=f"1.2.9.{index}",
                root_dir="x",
            )
        )
    st.close()


def test_several_processes_open_and_write_the_same_store(settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_and_write, args=(str(settings.home), i)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    st = open_store(settings)
    with st.session() as s:
        assert sorted(s.scalars(select(Exam.name)).all()) == ["p0", "p1", "p2", "p3"]
    st.close()


def test_bad_database_url_is_one_clear_error(tmp_path) -> None:
    settings = Settings.from_env(
        {"DRIMLAB_HOME": str(tmp_path), "DRIMLAB_DATABASE_URL": "nosuchdb://x"}
    )
    with pytest.raises(StoreError, match="cannot open database"):
        open_store(settings)
