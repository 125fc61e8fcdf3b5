"""Paginated, indexed listings of exchanges and reports (the portal's lists, the live feed).

Pages are keyset-paginated on `(created_at, id)`, newest first: a page costs the same at the
first row and at the hundred-thousandth, and rows arriving meanwhile never shift a page.
A `Cursor` is the position of the last row seen; `exchanges_after` gives the rows newer than
one (the live list polls it). Every filter uses an indexed column (see migration 0005).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select

from drimlab.store.db import Store
from drimlab.store.models import ExchangeRecord, ReportRecord

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Cursor:
    """A position in a newest-first listing: the creation time and id of a row."""

    created_at: datetime
    id: str

    def token(self) -> str:
        return f"{self.created_at.astimezone(UTC).isoformat()}|{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> Cursor | None:
        """The cursor a `token()` gave; None for an empty or malformed token."""
        if not token or "|" not in token:
            return None
        when, _, row_id = token.partition("|")
        try:
            parsed = datetime.fromisoformat(when)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return cls(parsed, row_id[:36])


@dataclass(frozen=True)
class ExchangeFilter:
    """What a list of exchanges is restricted to; None means any."""

    origin: str | None = None
    verdict: str | None = None
    status: int | None = None
    client_subject: str | None = None
    study_instance_uid: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    organisation_id: int | None = None  # one organisation's exchanges (`store.ownership`)


@dataclass(frozen=True)
class ExchangeItem:
    """One row of a list of exchanges, with the verdict of its latest report."""

    id: str
    created_at: datetime
    origin: str
    method: str
    target: str
    status: int | None
    client_subject: str | None
    study_instance_uid: str | None
    note: str
    verdict: str | None
    report_id: str | None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.created_at, self.id)


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of rows and the cursor of the next (older) page, if there is one."""

    items: tuple[T, ...]
    next_cursor: Cursor | None


def _filtered(query: AnySelect, wanted: ExchangeFilter) -> AnySelect:
    record = ExchangeRecord
    if wanted.organisation_id is not None:
        query = query.where(record.organisation_id == wanted.organisation_id)
    if wanted.origin is not None:
        if wanted.organisation_id is not None:
            # an organisation's own index orders its rows by time already
            query = query.where(func.coalesce(record.origin, "") == wanted.origin)
        elif wanted.study_instance_uid or wanted.client_subject:
            # an exam or a client is far more selective than the origin: keep the planner
            # (SQLite has no statistics by default) on their indexes, not on the origin's
            query = query.where(func.coalesce(record.origin, "") == wanted.origin)
        else:
            query = query.where(record.origin == wanted.origin)
    if wanted.status is not None:
        query = query.where(record.status == wanted.status)
    if wanted.client_subject:
        query = query.where(record.client_subject == wanted.client_subject)
    if wanted.study_instance_uid:
        query = query.where(record.study_instance_uid == wanted.study_instance_uid)
    if wanted.since is not None:
        query = query.where(record.created_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(record.created_at <= wanted.until)
    if wanted.verdict:
        query = query.where(
            exists().where(
                and_(ReportRecord.exchange_id == record.id, ReportRecord.verdict == wanted.verdict)
            )
        )
    return query


def _older_than(cursor: Cursor) -> ColumnElement[bool]:
    record = ExchangeRecord
    return or_(
        record.created_at < cursor.created_at,
        and_(record.created_at == cursor.created_at, record.id < cursor.id),
    )


def _items(store: Store, query: AnySelect) -> list[ExchangeItem]:
    with store.session() as session:
        rows = session.scalars(query).all()
        latest: dict[str, tuple[str | None, str | None]] = {}
        ids = [row.id for row in rows]
        if ids:
            for exchange_id, report_id, verdict in session.execute(
                select(ReportRecord.exchange_id, ReportRecord.id, ReportRecord.verdict)
                .where(ReportRecord.exchange_id.in_(ids))
                .order_by(ReportRecord.created_at)
            ):
                if exchange_id is not None:
                    latest[exchange_id] = (report_id, verdict)
        return [
            ExchangeItem(
                id=row.id,
                created_at=row.created_at,
                origin=row.origin,
                method=row.method,
                target=row.target,
                status=row.status,
                client_subject=row.client_subject,
                study_instance_uid=row.study_instance_uid,
                note=row.note,
                verdict=latest.get(row.id, (None, None))[1],
                report_id=latest.get(row.id, (None, None))[0],
            )
            for row in rows
        ]


def page_exchanges(
    store: Store,
    wanted: ExchangeFilter | None = None,
    *,
    before: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> Page[ExchangeItem]:
    """The newest exchanges matching `wanted`, older than `before` when given."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    record = ExchangeRecord
    query = _filtered(select(record), wanted or ExchangeFilter())
    if before is not None:
        query = query.where(_older_than(before))
    query = query.order_by(record.created_at.desc(), record.id.desc()).limit(limit + 1)
    items = _items(store, query)
    more = len(items) > limit
    items = items[:limit]
    return Page(tuple(items), items[-1].cursor if more and items else None)


def exchanges_after(
    store: Store, after: Cursor, wanted: ExchangeFilter | None = None, *, limit: int = PAGE_SIZE
) -> list[ExchangeItem]:
    """The exchanges newer than `after` that match `wanted`, oldest first (a live feed)."""
    record = ExchangeRecord
    query = _filtered(select(record), wanted or ExchangeFilter()).where(
        or_(
            record.created_at > after.created_at,
            and_(record.created_at == after.created_at, record.id > after.id),
        )
    )
    query = query.order_by(record.created_at, record.id).limit(max(1, min(limit, MAX_PAGE_SIZE)))
    return _items(store, query)


def latest_exchange_cursor(store: Store, wanted: ExchangeFilter | None = None) -> Cursor | None:
    """Where a live feed starts: the newest exchange matching `wanted` (None: none yet)."""
    record = ExchangeRecord
    query = (
        _filtered(select(record.created_at, record.id), wanted or ExchangeFilter())
        .order_by(record.created_at.desc(), record.id.desc())
        .limit(1)
    )
    with store.session() as session:
        row = session.execute(query).first()
        return None if row is None else Cursor(row[0], row[1])


def client_subjects(
    store: Store, *, limit: int = 50, organisation_id: int | None = None
) -> list[str]:
    """The distinct client certificate subjects seen, in order, for a filter menu.

    One index lookup per subject (a skip scan of `ix_exchanges_client_subject`), so the cost
    does not grow with the number of exchanges.
    """
    record = ExchangeRecord
    found: list[str] = []
    with store.session() as session:
        while len(found) < limit:
            query = select(func.min(record.client_subject)).where(
                record.client_subject.is_not(None)
            )
            if organisation_id is not None:
                query = query.where(record.organisation_id == organisation_id)
            if found:
                query = query.where(record.client_subject > found[-1])
            subject = session.execute(query).scalar()
            if subject is None:
                break
            found.append(str(subject))
    return found


@dataclass(frozen=True)
class ReportItem:
    """One row of the validation history."""

    id: str
    created_at: datetime
    exchange_id: str | None
    kind: str
    subject: str
    profile: str
    verdict: str

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.created_at, self.id)


def _report_query(
    before: Cursor | None, verdict: str | None, organisation_id: int | None = None
) -> AnySelect:
    record = ReportRecord
    query: AnySelect = select(
        record.id,
        record.created_at,
        record.exchange_id,
        record.kind,
        record.subject,
        record.profile,
        record.verdict,
    )
    if verdict:
        query = query.where(record.verdict == verdict)
    if organisation_id is not None:
        query = query.where(record.organisation_id == organisation_id)
    if before is not None:
        query = query.where(
            or_(
                record.created_at < before.created_at,
                and_(record.created_at == before.created_at, record.id < before.id),
            )
        )
    return query


def page_reports(
    store: Store,
    *,
    uploads_only: bool = False,
    kinds: Sequence[str] = (),
    verdict: str | None = None,
    before: Cursor | None = None,
    limit: int = PAGE_SIZE,
    organisation_id: int | None = None,
) -> Page[ReportItem]:
    """The newest reports, older than `before`.

    `uploads_only`: the reports of validations of files (documents, uploaded or loaded
    messages), not those of the simulators' own exchanges. Two indexed queries, merged.
    `organisation_id`: only that organisation's reports.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    record = ReportRecord
    newest = (record.created_at.desc(), record.id.desc())
    queries = []
    if uploads_only:
        documents = _report_query(before, verdict, organisation_id).where(
            record.exchange_id.is_(None)
        )
        files = (
            _report_query(before, verdict, organisation_id)
            .join(ExchangeRecord, ExchangeRecord.id == record.exchange_id)
            .where(ExchangeRecord.origin == "file")
        )
        queries = [documents, files]
    else:
        queries = [_report_query(before, verdict, organisation_id)]
    rows: list[ReportItem] = []
    with store.session() as session:
        for query in queries:
            chosen = query.where(record.kind.in_(list(kinds))) if kinds else query
            found = session.execute(chosen.order_by(*newest).limit(limit + 1)).all()
            rows.extend(ReportItem(*row) for row in found)
    rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(tuple(rows), rows[-1].cursor if more and rows else None)
