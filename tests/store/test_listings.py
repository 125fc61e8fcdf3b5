"""Keyset-paginated listings: pages, filters, the live feed after a cursor, the history."""

from __future__ import annotations

from drimlab.exchange import Exchange
from drimlab.store import Store
from drimlab.store.listings import (
    Cursor,
    ExchangeFilter,
    client_subjects,
    exchanges_after,
    latest_exchange_cursor,
    page_exchanges,
    page_reports,
)
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.engine import validate_exchange

STUDY = "1.2.826.0.1.3680043.10.77.1"


def _record(store: Store, number: int, *, origin: str = "server", status: int = 200) -> str:
    exchange = Exchange(
        method="GET",
        target=f"/dicom-web/studies/{STUDY}/series/1.2.3.{number}",
        request_headers=(("Host", "localhost"), ("Accept", "multipart/related")),
        status=status,
        origin=origin,  # type: ignore[arg-type]
    )
    report = validate_exchange(exchange, "drim-m")
    exchange_id = save_exchange(store, exchange)
    save_report(store, report, exchange_id=exchange_id)
    return exchange_id


def test_pages_cover_every_exchange_once_newest_first(store: Store) -> None:
    ids = [_record(store, n) for n in range(7)]
    seen: list[str] = []
    page = page_exchanges(store, ExchangeFilter(origin="server"), limit=3)
    while True:
        seen.extend(item.id for item in page.items)
        if page.next_cursor is None:
            break
        page = page_exchanges(
            store, ExchangeFilter(origin="server"), before=page.next_cursor, limit=3
        )
    assert sorted(seen) == sorted(ids)
    assert seen[0] == ids[-1]
    assert all(item.verdict for item in page_exchanges(store).items)


def test_filters_and_the_feed_after_a_cursor(store: Store) -> None:
    _record(store, 1, status=200)
    start = latest_exchange_cursor(store)
    assert start is not None
    newer = _record(store, 2, status=404)
    _record(store, 3, origin="file")
    assert [i.id for i in exchanges_after(store, start, ExchangeFilter(origin="server"))] == [newer]
    only = page_exchanges(store, ExchangeFilter(status=404)).items
    assert [i.id for i in only] == [newer]
    assert page_exchanges(store, ExchangeFilter(study_instance_uid=STUDY, origin="server")).items
    assert page_exchanges(store, ExchangeFilter(verdict="NOPE")).items == ()
    assert client_subjects(store) == []


def test_cursor_tokens_round_trip_and_bad_ones_are_none(store: Store) -> None:
    _record(store, 1)
    cursor = latest_exchange_cursor(store)
    assert cursor is not None
    assert Cursor.parse(cursor.token()) == cursor
    assert Cursor.parse("garbage") is None
    assert Cursor.parse("not-a-date|x") is None


def test_history_lists_file_validations_not_the_simulators(store: Store) -> None:
    _record(store, 1, origin="server")
    mine = _record(store, 2, origin="file")
    history = page_reports(store, uploads_only=True).items
    assert [r.exchange_id for r in history] == [mine]
    assert len(page_reports(store).items) == 2
