"""The journal of a server simulator: whole lines only, locked while its writer lives."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from drimlab.exchange import Exchange
from drimlab.facts.decision import Cause, Decision
from drimlab.simulators.recovery import recover_journals
from drimlab.store import Store
from drimlab.store.journal import (
    Journal,
    JournalError,
    journal_dir,
    leftover_journals,
    read_journal,
)
from drimlab.store.models import ExchangeRecord, ReportRecord
from drimlab.store.records import load_exchange, save_exchange_and_report
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange

REQUEST = Exchange(
    method="GET",
    target="/dicom-web/studies/1.2.3",
    request_headers=(("Host", "source"), ("Accept", "multipart/related")),
    origin="server",
    timings={"started_at": 1.0},
)
ANSWERED = Exchange(
    method="GET",
    target="/dicom-web/studies/1.2.3",
    request_headers=REQUEST.request_headers,
    status=200,
    reason="OK",
    response_headers=(("Content-Type", "multipart/related"),),
    origin="server",
    decision=Decision(200, Cause.SERVED),
    timings={"started_at": 1.0, "total_s": 0.1},
)


def _judge(exchange: Exchange):
    return validate_exchange(exchange, Selection.of("drim-m"))


def test_an_exchange_goes_begin_end_stored_and_a_finished_journal_is_deleted(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    journal.begin("a", REQUEST.as_dict())
    assert journal.pending == 1 and journal.holds("a")
    journal.end("a", ANSWERED.as_dict())
    [entry] = read_journal(journal.path)
    assert (entry.id, entry.ended, entry.stored) == ("a", True, False)
    assert Exchange.from_dict(entry.exchange).status == 200
    journal.stored("a")
    assert journal.pending == 0 and not journal.holds("a")
    path = journal.path
    journal.close()
    assert not path.exists()


def test_a_journal_with_pending_exchanges_is_kept_and_locked_while_its_writer_lives(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path)
    journal.begin("a", REQUEST.as_dict())
    assert list(leftover_journals(tmp_path)) == []  # held by its (living) writer
    journal.close()
    [(path, entries)] = list(leftover_journals(tmp_path))
    assert path == journal.path and [e.id for e in entries] == ["a"] and not entries[0].ended


def _hold_journal(directory: str, ready, release) -> None:  # type: ignore[no-untyped-def]
    journal = Journal(Path(directory))
    journal.begin("x", REQUEST.as_dict())
    ready.set()
    release.wait(30)


def test_a_journal_held_by_another_process_is_not_a_leftover(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    process = context.Process(target=_hold_journal, args=(str(tmp_path), ready, release))
    process.start()
    try:
        assert ready.wait(60)
        assert list(leftover_journals(tmp_path)) == []
    finally:
        release.set()
        process.join(60)
    # its writer is gone (it exited without closing): the journal is a leftover now
    [(_, entries)] = list(leftover_journals(tmp_path))
    assert [e.id for e in entries] == ["x"]


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.begin("a", REQUEST.as_dict())
    journal.close()
    with journal.path.open("ab") as handle:
        handle.write(json.dumps({"op": "end", "id": "a", "exchange": {}}).encode()[:20])
    [entry] = read_journal(journal.path)
    assert entry.id == "a" and not entry.ended


def test_segments_rotate_and_a_finished_segment_is_deleted(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=1)
    journal.begin("a", REQUEST.as_dict())  # fills the first segment: the next one opens
    first = next(p for p in tmp_path.iterdir() if p != journal.path)
    journal.begin("b", REQUEST.as_dict())
    journal.end("a", ANSWERED.as_dict())  # an exchange stays in the segment it began in
    assert [e.id for e in read_journal(first)] == ["a"]
    journal.stored("a")
    assert not first.exists()
    journal.close()  # the empty current segment goes, b's stays
    [left] = list(tmp_path.iterdir())
    assert [e.id for e in read_journal(left)] == ["b"]


def test_recovery_stores_ended_exchanges_whole_and_begun_ones_as_incomplete(store: Store) -> None:
    journal = Journal(journal_dir(store))
    journal.begin("answered", REQUEST.as_dict())
    journal.end("answered", ANSWERED.as_dict())
    journal.begin("cut", REQUEST.as_dict())
    journal.begin("stored", REQUEST.as_dict())
    journal.end("stored", ANSWERED.as_dict())
    save_exchange_and_report(store, ANSWERED, _judge(ANSWERED), exchange_id="stored")
    journal.close()  # as after kill -9: the marker of "stored" never written

    recovery = recover_journals(store, _judge)

    assert (recovery.journals, recovery.complete, recovery.incomplete) == (1, 1, 1)
    assert recovery.already == 1
    assert list(journal_dir(store).iterdir()) == []
    assert load_exchange(store, "answered").status == 200
    cut = load_exchange(store, "cut")
    assert cut.status is None and cut.decision is not None
    assert cut.decision.cause is Cause.INTERRUPTED
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeRecord)) == 3
        reports = session.scalars(select(ReportRecord).where(ReportRecord.exchange_id == "cut"))
        [report] = reports.all()
    codes = {f["rule"] for f in report.data["findings"]}
    assert "REFUSAL-008" in codes
    assert recover_journals(store, _judge).journals == 0  # nothing left to do


def test_an_exchange_and_its_report_are_stored_together_or_not_at_all(store: Store) -> None:
    report = _judge(ANSWERED)
    save_exchange_and_report(store, ANSWERED, report, exchange_id="one")
    with pytest.raises(IntegrityError):  # the same id again: the exchange row is refused...
        save_exchange_and_report(store, ANSWERED, report, exchange_id="one")
    # ...and its report with it
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ExchangeRecord)) == 1
        assert session.scalar(select(func.count()).select_from(ReportRecord)) == 1


def test_a_probe_leaves_nothing_and_fails_on_a_closed_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.begin("a", REQUEST.as_dict())
    size = journal.path.stat().st_size
    journal.probe()
    assert journal.path.stat().st_size == size
    journal.close()
    with pytest.raises(JournalError):
        journal.probe()
