"""What each organisation keeps in the store, and the quota that bounds it.

Usage is what the store can sum cheaply through the organisation's indexes: the number of
its exchanges, and the bytes written to disk for it (the bodies of its exchanges, the
uploaded inputs kept with its reports: `stored_bytes` on each row). A quota is the
organisation's own (`drimlab admin set-quota`) or, when it has none, the environment's
default (`DRIMLAB_QUOTA_EXCHANGES`, `DRIMLAB_QUOTA_BYTES`); None is unlimited. An
organisation at or past a quota makes the store grow no more: the portal answers 429 and the
server simulator 503 (`check_quota` is the one test every entry point makes).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from drimlab.errors import InputError
from drimlab.store.db import Store
from drimlab.store.models import ExchangeRecord, Organisation, ReportRecord


@dataclass(frozen=True)
class Usage:
    """What an organisation keeps: exchanges (count) and bytes on disk."""

    exchanges: int
    bytes: int


@dataclass(frozen=True)
class QuotaState:
    """An organisation's usage against its quotas (None: unlimited)."""

    organisation_id: int
    organisation: str
    usage: Usage
    quota_exchanges: int | None
    quota_bytes: int | None

    @property
    def over_exchanges(self) -> bool:
        return self.quota_exchanges is not None and self.usage.exchanges >= self.quota_exchanges

    @property
    def over_bytes(self) -> bool:
        return self.quota_bytes is not None and self.usage.bytes >= self.quota_bytes

    @property
    def over(self) -> bool:
        """True when the organisation may store nothing more."""
        return self.over_exchanges or self.over_bytes

    @property
    def reason(self) -> str:
        """One line saying which quota is reached ('' when none is)."""
        reached = []
        if self.over_exchanges:
            reached.append(f"{self.usage.exchanges} of {self.quota_exchanges} exchanges")
        if self.over_bytes:
            reached.append(
                f"{format_size(self.usage.bytes)} of {format_size(self.quota_bytes or 0)}"
            )
        if not reached:
            return ""
        return (
            f"organisation {self.organisation!r} has reached its storage quota "
            f"({' and '.join(reached)} stored): nothing more is stored until an admin raises "
            "it or old exchanges are purged"
        )


def format_size(size: int) -> str:
    """`1.5 GiB`, `500.0 MiB`, `12 B`."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def usage(store: Store, organisation_id: int) -> Usage:
    """The exchanges and bytes an organisation keeps in the store."""
    with store.session() as session:
        count, exchange_bytes = session.execute(
            select(
                func.count(ExchangeRecord.id),
                func.coalesce(func.sum(ExchangeRecord.stored_bytes), 0),
            ).where(ExchangeRecord.organisation_id == organisation_id)
        ).one()
        report_bytes = session.scalar(
            select(func.coalesce(func.sum(ReportRecord.stored_bytes), 0)).where(
                ReportRecord.organisation_id == organisation_id
            )
        )
    return Usage(int(count), int(exchange_bytes) + int(report_bytes or 0))


def check_quota(store: Store, organisation_id: int) -> QuotaState:
    """An organisation's usage against its quotas; InputError for an unknown organisation."""
    settings = store.settings
    with store.session() as session:
        row = session.get(Organisation, organisation_id)
        if row is None:
            raise InputError(f"no organisation with id {organisation_id}")
        name, exchanges, size = row.name, row.quota_exchanges, row.quota_bytes
    return QuotaState(
        organisation_id,
        name,
        usage(store, organisation_id),
        settings.quota_exchanges if exchanges is None else exchanges,
        settings.quota_bytes if size is None else size,
    )


def over_quota(store: Store, organisation_id: int | None) -> QuotaState | None:
    """The quota state of an organisation that may store nothing more; None otherwise (also
    for rows of nobody in particular: the lab's own, which no quota bounds)."""
    if organisation_id is None:
        return None
    state = check_quota(store, organisation_id)
    return state if state.over else None


class Keep:
    """The value `set_quota` leaves as it is."""


KEEP = Keep()


def set_quota(
    store: Store,
    name: str,
    *,
    exchanges: int | Keep | None = KEEP,
    size: int | Keep | None = KEEP,
) -> QuotaState:
    """Set (a number) or remove (None: the environment's default) an organisation's quotas."""
    for value in (exchanges, size):
        if isinstance(value, int) and value < 0:
            raise InputError(f"a quota is 0 or more, not {value}")
    with store.session() as session:
        row = session.scalar(select(Organisation).where(Organisation.name == name))
        if row is None:
            raise InputError(f"no organisation {name!r}")
        if not isinstance(exchanges, Keep):
            row.quota_exchanges = exchanges
        if not isinstance(size, Keep):
            row.quota_bytes = size
        organisation_id = row.id
    return check_quota(store, organisation_id)


def all_quotas(store: Store) -> list[QuotaState]:
    """Every organisation's usage and quotas, by name."""
    with store.session() as session:
        ids = list(session.scalars(select(Organisation.id).order_by(Organisation.name)))
    return [check_quota(store, i) for i in ids]
