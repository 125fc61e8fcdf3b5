"""Listing what the store holds: recent exchanges and the reports of an exchange."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
