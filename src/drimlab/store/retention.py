"""Retention: what is older than N days leaves the store, unless a scenario run holds it.

`purge` removes, in batches of `BATCH` rows per transaction (a large purge never holds a long
lock), the exchanges created before the cut-off with their reports (the findings are in the
reports) and their body files, the stand-alone reports (uploaded validations), the finished
background jobs with their input folders, and the upload folders under `home/uploads` no
job still names. It keeps every exchange and report a scenario run's steps name (what the
run's evidence bundle exports, and what a monitor's review judged: reviews are on runs, and
runs are never purged), and the reports of a kept exchange. A body file is shared by every
exchange whose body has the same SHA-256: it is removed only when no remaining row names it
and it was not written or used again since the cut-off. One purge runs at a time across the
workers (`Store.lock("purge")`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, delete, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from drimlab.config import Settings
from drimlab.store.db import Store
from drimlab.store.models import (
    BackgroundJob,
    ExchangeRecord,
    ReportRecord,
    ScenarioStepState,
    utcnow,
)

BATCH = 500
FINISHED = ("done", "failed")


@dataclass
class Removed:
    """What one kind of purge removed: rows and bytes on disk."""

    count: int = 0
    bytes: int = 0


@dataclass
class PurgeSummary:
    """What a purge removed (or, in a dry run, would remove), per kind."""

    cutoff: datetime
    dry_run: bool
    exchanges: Removed = field(default_factory=Removed)
    reports: Removed = field(default_factory=Removed)
    jobs: Removed = field(default_factory=Removed)
    uploads: Removed = field(default_factory=Removed)
    kept: int = 0  # old exchanges and reports a scenario run holds

    def lines(self) -> list[str]:
        """One line per kind, as `drimlab admin purge` prints them."""
        verb = "would remove" if self.dry_run else "removed"
        out = [
            f"{kind}: {verb} {removed.count} ({removed.bytes} bytes on disk)"
            for kind, removed in (
                ("exchanges", self.exchanges),
                ("reports", self.reports),
                ("background jobs", self.jobs),
                ("upload folders", self.uploads),
            )
        ]
        out.append(f"kept: {self.kept} older exchanges and reports a scenario run holds")
        return out


@dataclass(frozen=True)
class _Held:
    exchanges: frozenset[str]
    reports: frozenset[str]


def _held(session: Session) -> _Held:
    """What the runs' steps name, and the exchanges of the reports they name."""
    exchanges: set[str] = set()
    reports: set[str] = set()
    for exchange_ids, report_ids in session.execute(
        select(ScenarioStepState.exchange_ids, ScenarioStepState.report_ids)
    ):
        exchanges.update(str(i) for i in exchange_ids or ())
        reports.update(str(i) for i in report_ids or ())
    for chunk in _chunks(sorted(reports)):
        exchanges.update(
            str(i)
            for i in session.scalars(
                select(ReportRecord.exchange_id).where(
                    ReportRecord.id.in_(chunk), ReportRecord.exchange_id.is_not(None)
                )
            )
        )
    return _Held(frozenset(exchanges), frozenset(reports))


def _chunks(items: list[str], size: int = BATCH) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _after(
    column_time: InstrumentedAttribute[datetime],
    column_id: InstrumentedAttribute[str],
    cursor: tuple[datetime, str] | None,
) -> ColumnElement[bool]:
    """Rows past the keyset cursor (created_at, id): each batch starts where the last ended."""
    if cursor is None:
        return true()
    when, ident = cursor
    return or_(column_time > when, and_(column_time == when, column_id > ident))


def purge(
    store: Store, settings: Settings, older_than: timedelta, *, dry_run: bool = False
) -> PurgeSummary:
    """Remove what is older than `older_than` and held by no run; what was (or would be)
    removed, per kind."""
    cutoff = utcnow() - older_than
    summary = PurgeSummary(cutoff=cutoff, dry_run=dry_run)
    with store.lock("purge"):
        with store.session() as session:
            held = _held(session)
        _purge_exchanges(store, settings, cutoff, held, summary)
        _purge_reports(store, cutoff, held, summary)
        _purge_jobs(store, settings, cutoff, summary)
        _purge_uploads(store, settings, cutoff, summary)
    return summary


def _purge_exchanges(
    store: Store, settings: Settings, cutoff: datetime, held: _Held, summary: PurgeSummary
) -> None:
    cursor: tuple[datetime, str] | None = None
    while True:
        with store.session() as session:
            rows = session.execute(
                select(
                    ExchangeRecord.id,
                    ExchangeRecord.created_at,
                    ExchangeRecord.request_body_path,
                    ExchangeRecord.response_body_path,
                )
                .where(
                    ExchangeRecord.created_at < cutoff,
                    _after(ExchangeRecord.created_at, ExchangeRecord.id, cursor),
                )
                .order_by(ExchangeRecord.created_at, ExchangeRecord.id)
                .limit(BATCH)
            ).all()
            if not rows:
                return
            cursor = (rows[-1].created_at, rows[-1].id)
            doomed = [r.id for r in rows if r.id not in held.exchanges]
            summary.kept += len(rows) - len(doomed)
            reports = _reports_of(session, doomed, held)
            summary.exchanges.count += len(doomed)
            summary.reports.count += len(reports)
            chosen = set(doomed)
            paths = {
                p
                for r in rows
                if r.id in chosen
                for p in (r.request_body_path, r.response_body_path)
                if p
            }
            if summary.dry_run:
                summary.exchanges.bytes += sum(_size(settings.home / p) for p in paths)
                continue
            if reports:
                session.execute(delete(ReportRecord).where(ReportRecord.id.in_(reports)))
            if doomed:
                session.execute(delete(ExchangeRecord).where(ExchangeRecord.id.in_(doomed)))
            session.flush()
            orphans = _unreferenced(session, paths)
        # the rows are gone (committed): now the files no row names any more
        summary.exchanges.bytes += _remove_files(settings.home, orphans, cutoff)


def _reports_of(session: Session, exchange_ids: list[str], held: _Held) -> list[str]:
    """The reports of exchanges being purged (a report a run names keeps its exchange)."""
    if not exchange_ids:
        return []
    return [
        str(i)
        for i in session.scalars(
            select(ReportRecord.id).where(ReportRecord.exchange_id.in_(exchange_ids))
        )
        if str(i) not in held.reports
    ]


def _unreferenced(session: Session, paths: Iterable[str]) -> list[str]:
    """The body paths no remaining exchange names (both columns are indexed)."""
    wanted = sorted(paths)
    if not wanted:
        return []
    named: set[str] = set()
    for chunk in _chunks(wanted):
        named.update(
            str(p)
            for p in session.scalars(
                select(ExchangeRecord.request_body_path).where(
                    ExchangeRecord.request_body_path.in_(chunk)
                )
            )
        )
        named.update(
            str(p)
            for p in session.scalars(
                select(ExchangeRecord.response_body_path).where(
                    ExchangeRecord.response_body_path.in_(chunk)
                )
            )
        )
    return [p for p in wanted if p not in named]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _remove_files(home: Path, relative: Iterable[str], cutoff: datetime) -> int:
    """Remove body files not touched since the cut-off (one being stored again now keeps its
    file: `store_body` renews its time); the bytes removed."""
    removed = 0
    limit = cutoff.timestamp()
    for name in relative:
        path = home / name
        try:
            stat = path.stat()
            if stat.st_mtime >= limit:
                continue
            os.unlink(path)
        except OSError:
            continue
        removed += stat.st_size
    return removed


def _purge_reports(store: Store, cutoff: datetime, held: _Held, summary: PurgeSummary) -> None:
    """Stand-alone reports (no exchange: documents, uploads) older than the cut-off."""
    cursor: tuple[datetime, str] | None = None
    while True:
        with store.session() as session:
            rows = session.execute(
                select(ReportRecord.id, ReportRecord.created_at, ReportRecord.stored_bytes)
                .where(
                    ReportRecord.created_at < cutoff,
                    ReportRecord.exchange_id.is_(None),
                    _after(ReportRecord.created_at, ReportRecord.id, cursor),
                )
                .order_by(ReportRecord.created_at, ReportRecord.id)
                .limit(BATCH)
            ).all()
            if not rows:
                return
            cursor = (rows[-1].created_at, rows[-1].id)
            doomed = [r.id for r in rows if r.id not in held.reports]
            summary.kept += len(rows) - len(doomed)
            summary.reports.count += len(doomed)
            if doomed and not summary.dry_run:
                session.execute(delete(ReportRecord).where(ReportRecord.id.in_(doomed)))


def _inside(home: Path, relative: str) -> Path | None:
    """`home/relative` when it is a folder under `home/uploads`, else None."""
    uploads = (home / "uploads").resolve()
    path = (home / relative).resolve()
    return path if path.is_relative_to(uploads) and path != uploads else None


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(_size(Path(root) / f) for f in files)
    return total


def _purge_jobs(store: Store, settings: Settings, cutoff: datetime, summary: PurgeSummary) -> None:
    """Background jobs finished before the cut-off, with their input folders."""
    while True:
        with store.session() as session:
            rows = session.execute(
                select(BackgroundJob.id, BackgroundJob.inputs)
                .where(BackgroundJob.state.in_(FINISHED), BackgroundJob.finished_at < cutoff)
                .order_by(BackgroundJob.finished_at, BackgroundJob.id)
                .limit(BATCH)
                .offset(summary.jobs.count if summary.dry_run else 0)
            ).all()
            if not rows:
                return
            summary.jobs.count += len(rows)
            folders = [
                f
                for r in rows
                if isinstance(r.inputs, dict) and r.inputs.get("folder")
                if (f := _inside(settings.home, str(r.inputs["folder"]))) is not None
            ]
            summary.jobs.bytes += sum(_tree_size(f) for f in folders if f.is_dir())
            if summary.dry_run:
                continue
            session.execute(delete(BackgroundJob).where(BackgroundJob.id.in_([r.id for r in rows])))
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def _purge_uploads(
    store: Store, settings: Settings, cutoff: datetime, summary: PurgeSummary
) -> None:
    """Upload folders (`home/uploads/validations/*`) older than the cut-off that no remaining
    job names: the inputs kept as evidence of the reports purged with them."""
    parent = settings.home / "uploads" / "validations"
    if not parent.is_dir():
        return
    with store.session() as session:
        named = {
            f
            for inputs in session.scalars(select(BackgroundJob.inputs))
            if isinstance(inputs, dict) and inputs.get("folder")
            if (f := _inside(settings.home, str(inputs["folder"]))) is not None
        }
    limit = cutoff.timestamp()
    for folder in sorted(parent.iterdir()):
        try:
            if not folder.is_dir() or folder.stat().st_mtime >= limit:
                continue
        except OSError:
            continue
        if folder.resolve() in named:
            continue
        summary.uploads.count += 1
        summary.uploads.bytes += _tree_size(folder)
        if not summary.dry_run:
            shutil.rmtree(folder, ignore_errors=True)
