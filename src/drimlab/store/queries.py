"""Looking up what the store holds: exchanges as stored, reports, and lists of both.

`load_exchange` / `load_report` (in `records`) give back the `Exchange` and the `Report`;
these give the stored rows' columns, for listings, links and evidence bundles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from drimlab.store.db import Store
from drimlab.store.models import ExchangeRecord, ReportRecord


@dataclass(frozen=True)
class ExchangeRow:
    """One line of `drimlab exchanges list`."""

    id: str
    created_at: datetime
    origin: str
    method: str
    target: str
    status: int | None
    verdicts: tuple[str, ...]
    note: str


def list_exchanges(
    store: Store, *, limit: int = 50, origin: str | None = None, study: str | None = None
) -> list[ExchangeRow]:
    """The most recent exchanges first, with the verdicts of their reports."""
    query = select(ExchangeRecord).order_by(ExchangeRecord.created_at.desc()).limit(limit)
    if origin is not None:
        query = query.where(ExchangeRecord.origin == origin)
    if study is not None:
        query = query.where(ExchangeRecord.study_instance_uid == study)
    with store.session() as session:
        rows = session.scalars(query).all()
        ids = [row.id for row in rows]
        verdicts: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for exchange_id, verdict in session.execute(
                select(ReportRecord.exchange_id, ReportRecord.verdict)
                .where(ReportRecord.exchange_id.in_(ids))
                .order_by(ReportRecord.created_at)
            ):
                if exchange_id is not None:
                    verdicts[exchange_id].append(verdict)
        return [
            ExchangeRow(
                id=row.id,
                created_at=row.created_at,
                origin=row.origin,
                method=row.method,
                target=row.target,
                status=row.status,
                verdicts=tuple(verdicts[row.id]),
                note=row.note,
            )
            for row in rows
        ]


def report_ids_of(store: Store, exchange_id: str) -> list[str]:
    """The reports made about one exchange, oldest first."""
    with store.session() as session:
        return list(
            session.scalars(
                select(ReportRecord.id)
                .where(ReportRecord.exchange_id == exchange_id)
                .order_by(ReportRecord.created_at)
            )
        )


def resolve_exchange_id(store: Store, prefix: str) -> str | None:
    """The full id of the one exchange whose id starts with `prefix` (None if none or several)."""
    with store.session() as session:
        found = session.scalars(
            select(ExchangeRecord.id).where(ExchangeRecord.id.startswith(prefix)).limit(2)
        ).all()
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class StoredExchange:
    """A stored exchange's row: its query columns, body paths (relative to the home), facts."""

    id: str
    created_at: datetime
    origin: str
    method: str
    target: str
    request_headers: tuple[Any, ...]  # [name, value] pairs as captured
    request_body_path: str | None
    status: int | None
    response_headers: tuple[Any, ...]
    response_body_path: str | None
    parts: tuple[Mapping[str, Any], ...]
    peer: Mapping[str, Any]
    timings: Mapping[str, Any]
    study_instance_uid: str | None
    kos_sop_instance_uid: str | None
    note: str
    facts: Mapping[str, Any]  # the whole Exchange as `Exchange.as_dict()` gave it


def _stored(row: ExchangeRecord) -> StoredExchange:
    return StoredExchange(
        id=row.id,
        created_at=row.created_at,
        origin=row.origin,
        method=row.method,
        target=row.target,
        request_headers=tuple(row.request_headers),
        request_body_path=row.request_body_path,
        status=row.status,
        response_headers=tuple(row.response_headers),
        response_body_path=row.response_body_path,
        parts=tuple(row.parts),
        peer=dict(row.peer),
        timings=dict(row.timings),
        study_instance_uid=row.study_instance_uid,
        kos_sop_instance_uid=row.kos_sop_instance_uid,
        note=row.note,
        facts=dict(row.facts or {}),
    )


def stored_exchange(store: Store, exchange_id: str) -> StoredExchange | None:
    """The stored row of one exchange, if the store holds it."""
    with store.session() as session:
        row = session.get(ExchangeRecord, exchange_id)
        return None if row is None else _stored(row)


def first_peer(store: Store, exchange_ids: Iterable[str]) -> dict[str, Any]:
    """The peer certificate facts of the first of these exchanges that has any ({} if none)."""
    with store.session() as session:
        for exchange_id in exchange_ids:
            row = session.get(ExchangeRecord, exchange_id)
            if row is not None and row.peer:
                return dict(row.peer)
    return {}


@dataclass(frozen=True)
class ReportRow:
    """A stored report's columns, without the report itself (`load_report` gives it)."""

    id: str
    created_at: datetime
    exchange_id: str | None
    kind: str
    subject: str
    profile: str
    verdict: str
    study_instance_uid: str | None


_REPORT_COLUMNS = (
    ReportRecord.id,
    ReportRecord.created_at,
    ReportRecord.exchange_id,
    ReportRecord.kind,
    ReportRecord.subject,
    ReportRecord.profile,
    ReportRecord.verdict,
    ReportRecord.study_instance_uid,
)


def report_row(store: Store, report_id: str) -> ReportRow | None:
    """The columns of one stored report, if the store holds it."""
    with store.session() as session:
        found = session.execute(
            select(*_REPORT_COLUMNS).where(ReportRecord.id == report_id)
        ).first()
    return None if found is None else ReportRow(*found)


def list_reports(store: Store, *, limit: int = 50) -> list[ReportRow]:
    """The most recent reports first."""
    with store.session() as session:
        found = session.execute(
            select(*_REPORT_COLUMNS).order_by(ReportRecord.created_at.desc()).limit(limit)
        ).all()
    return [ReportRow(*row) for row in found]
