"""The store on a real PostgreSQL server: the same behaviour as on SQLite, several processes."""

from __future__ import annotations

import itertools
import multiprocessing
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from drimlab.config import Settings
from drimlab.datasets.catalog import generate_dataset, list_exams
from drimlab.datasets.synthetic import dataset_specs
from drimlab.errors import ConfigurationError, StoreError
from drimlab.exchange import Exchange
from drimlab.facts.tls import CertificateFacts, Role, TlsFacts
from drimlab.simulators.index import CatalogIndex
from drimlab.store import Store, open_store
from drimlab.store.db import MIGRATIONS_DIR, alembic_config
from drimlab.store.models import Base, Exam, ExchangeRecord
from drimlab.store.records import load_exchange, load_report, save_exchange, save_report
from drimlab.testing.postgres import PostgresServer, find_bindir
from drimlab.validation.engine import validate_request

_NAMES = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_settings(
    pg_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """A fresh, empty database of its own, and a home for the files."""
    url = pg_server.create_database(f"test_{next(_NAMES)}")
    home = tmp_path / "home"
    monkeypatch.setenv("DRIMLAB_HOME", str(home))
    monkeypatch.setenv("DRIMLAB_DATABASE_URL", url)
    return Settings.from_env()


@pytest.fixture
def pg_store(pg_settings: Settings) -> Iterator[Store]:
    opened = open_store(pg_settings)
    yield opened
    opened.close()


def _exam(name: str, uid: str) -> Exam:
    return Exam(name=name, dataset="t", origin="synthetic", study_instance_uid=uid, root_dir="x")


def test_settings_select_postgresql(pg_store: Store) -> None:
    assert pg_store.engine.dialect.name == "postgresql"
    assert not pg_store.settings.is_sqlite


def test_migrate_creates_the_same_tables_as_on_sqlite(pg_store: Store, store: Store) -> None:
    on_postgres = set(inspect(pg_store.engine).get_table_names())
    on_sqlite = set(inspect(store.engine).get_table_names())
    assert "alembic_version" in on_postgres
    assert {"exams", "instance_files", "exchanges", "reports", "scenario_steps"} <= on_postgres
    assert on_postgres == on_sqlite


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_migrations_match_the_models(backend: str, request: pytest.FixtureRequest) -> None:
    opened: Store = request.getfixturevalue("pg_store" if backend == "postgresql" else "store")
    with opened.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_again_keeps_rows(pg_store: Store, pg_settings: Settings) -> None:
    with pg_store.session() as s:
        s.add(_exam("e1", "1.2.3"))
    pg_store.close()
    again = open_store(pg_settings)
    try:
        with again.session() as s:
            assert s.scalars(select(Exam.name)).all() == ["e1"]
            assert s.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        again.close()


def test_failed_unit_of_work_leaves_nothing(pg_store: Store) -> None:
    with pytest.raises(RuntimeError), pg_store.session() as s:
        s.add(_exam("e2", "1.2.4"))
        s.flush()
        raise RuntimeError("interrupted")
    with pg_store.session() as s:
        assert s.scalars(select(Exam)).all() == []


def test_exchange_and_report_round_trip(pg_store: Store) -> None:
    exchange = Exchange(
        method="GET",
        target="/dicom-web/studies/1.2.250.1/series/1.2.250.2",
        request_headers=(("Accept", 'multipart/related; type="application/dicom"'), ("É", "ü")),
        request_body=b"\x00\x01 body \xff",
        status=200,
        response_headers=(("Content-Type", "text/plain"),),
        response_body=b"answer",
        tls=TlsFacts(
            role=Role.CLIENT,
            peer_address="127.0.0.1:4242",
            peer_chain=(
                CertificateFacts(
                    subject="CN=été",
                    issuer="CN=CA",
                    serial="1f",
                    sha256="0" * 64,
                    not_before=datetime(2026, 1, 1, tzinfo=UTC),
                    not_after=datetime(2027, 1, 1, tzinfo=UTC),
                ),
            ),
            chain_verified=True,
        ),
        timings={"started_at": 1764460800.25, "total": 0.5},
        origin="client",
        label="from a test",
    )
    exchange_id = save_exchange(pg_store, exchange)
    report = validate_request(exchange)
    report_id = save_report(pg_store, report, exchange_id=exchange_id)

    got = load_exchange(pg_store, exchange_id)
    assert got.request_headers == exchange.request_headers
    assert got.response_headers == exchange.response_headers
    assert got.tls == exchange.tls
    assert got.timings == exchange.timings
    assert (got.origin, got.label, got.status) == ("client", "from a test", 200)
    assert isinstance(got.request_body, Path)
    assert got.request_body.read_bytes() == b"\x00\x01 body \xff"
    assert load_report(pg_store, report_id).as_dict() == report.as_dict()
    with pg_store.session() as s:
        row = s.get(ExchangeRecord, exchange_id)
        assert row is not None
        assert row.study_instance_uid == "1.2.250.1"
        assert [r.verdict for r in row.reports] == [report.verdict.value]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_times_come_back_in_utc(backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "postgresql":
        # A server whose sessions answer in local time, as many do.
        settings: Settings = request.getfixturevalue("pg_settings")
        database = settings.database_url.rsplit("/", 1)[1]
        request.getfixturevalue("pg_server").execute(
            f"ALTER DATABASE {database} SET timezone TO 'Europe/Paris'"
        )
    opened: Store = request.getfixturevalue("pg_store" if backend == "postgresql" else "store")
    if backend == "postgresql":
        with opened.engine.connect() as conn:
            assert conn.scalar(text("SHOW timezone")) == "Europe/Paris"
    paris = datetime(2026, 11, 29, 23, 30, tzinfo=UTC).astimezone(timezone(timedelta(hours=1)))
    with opened.session() as s:
        s.add(ExchangeRecord(id="c" * 36, origin="file", created_at=paris))
    with opened.session() as s:
        row = s.get(ExchangeRecord, "c" * 36)
        assert row is not None
        assert row.created_at == paris
        assert row.created_at.utcoffset() == timedelta(0)


def _open_and_write(home: str, url: str, index: int) -> None:
    settings = Settings.from_env({"DRIMLAB_HOME": home, "DRIMLAB_DATABASE_URL": url})
    st = open_store(settings)
    try:
        with st.session() as s:
            s.add(_exam(f"p{index}", f"1.2.9.{index}"))
    finally:
        st.close()


def test_several_processes_migrate_and_write_the_same_database(pg_settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_open_and_write, args=(str(pg_settings.home), pg_settings.database_url, i)
        )
        for i in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    st = open_store(pg_settings)
    try:
        with st.session() as s:
            assert sorted(s.scalars(select(Exam.name)).all()) == ["p0", "p1", "p2"]
            assert s.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        st.close()


def test_missing_database_is_one_clear_error(tmp_path: Path, pg_server: PostgresServer) -> None:
    # With a password that must not be shown.
    url = f"postgresql+psycopg://drimlab:s3cret@127.0.0.1:{pg_server.port}/no_such_database"
    settings = Settings(home=tmp_path, database_url=url)
    with pytest.raises(StoreError) as caught:
        open_store(settings)
    message = str(caught.value)
    assert "no_such_database" in message
    assert "\n" not in message
    assert "s3cret" not in message


def test_plain_postgresql_url_uses_psycopg(pg_server: PostgresServer, tmp_path: Path) -> None:
    url = pg_server.create_database("plain_url").replace("postgresql+psycopg://", "postgresql://")
    opened = open_store(Settings(home=tmp_path, database_url=url))
    try:
        assert opened.engine.dialect.driver == "psycopg"
    finally:
        opened.close()


def test_long_method_is_kept_short_not_refused(pg_store: Store) -> None:
    # PostgreSQL enforces VARCHAR lengths; captured traffic is untrusted and may be anything.
    exchange = Exchange(method="X" * 40, target="/" + "a" * 300, origin="proxy")
    exchange_id = save_exchange(pg_store, exchange)
    assert load_exchange(pg_store, exchange_id).method == "X" * 16


def test_a_generated_dataset_is_seen_by_the_catalogue_and_the_index(
    pg_store: Store, pg_settings: Settings
) -> None:
    spec = next(s for s in dataset_specs("default") if s.name == "radio-thorax")
    added = generate_dataset(pg_store, pg_settings, "default", specs=[spec])
    assert [e.name for e in added] == ["radio-thorax"]
    exams = list_exams(pg_store)
    assert [e.name for e in exams] == ["radio-thorax"]
    exam = exams[0]
    index = CatalogIndex(pg_store)
    assert index.exam(exam.study_instance_uid) == exam
    series = index.series_of(exam.study_instance_uid)
    assert series
    instances = [i for s in series for i in s.instances]
    assert len(instances) == spec.instance_count
    for instance in instances:
        assert index.instance(instance.sop_instance_uid) == instance
        assert instance.transfer_syntaxes
    assert exam.kos is not None
    assert index.kos(exam.kos.sop_instance_uid) == exam.kos
    # generating again adds nothing: the store already holds the exam
    assert generate_dataset(pg_store, pg_settings, "default", specs=[spec]) == []


def test_missing_postgresql_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="PostgreSQL is not installed"):
        find_bindir(tmp_path / "nothing-here")
    with pytest.raises(ConfigurationError, match="PostgreSQL is not installed"):
        PostgresServer(bindir=tmp_path).start()


def test_autogenerated_migrations_spell_plain_types(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    # A copy of the migrations without their versions: autogenerate writes the whole schema.
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("0*.py"))
    empty = open_store(
        Settings(home=tmp_path, database_url=pg_server.create_database("autogen")), migrate=False
    )
    try:
        config = alembic_config(empty.engine)
        config.set_main_option("script_location", str(scripts))
        command.revision(config, message="everything", autogenerate=True, rev_id="9999")
    finally:
        empty.close()
    (written,) = (scripts / "versions").glob("9999_*.py")
    code = written.read_text()
    assert "sa.DateTime(timezone=True)" in code
    assert "UtcDateTime" not in code
    assert "drimlab" not in code
