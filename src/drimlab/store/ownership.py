"""Which organisation an exchange, a report or a scenario run belongs to, and who may see it.

The server simulator's exchanges are attributed by the client certificate that made them
(`attribute`: a subject DN listed by an organisation, else the most specific DNS domain
matching the certificate's CN or a SAN, as a DRIM-M whitelist names a consumer). What a
user makes in the portal or through the API is `claim`ed for their organisation. A row
without an organisation belongs to nobody in particular: only monitors and admins see it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from drimlab.facts.tls import CertificateFacts
from drimlab.store.db import Store
from drimlab.store.models import ExchangeRecord, Organisation, ReportRecord, ScenarioRun


def _domain_matches(domain: str, name: str) -> bool:
    name = name.lower().rstrip(".")
    return name == domain or name.endswith("." + domain)


def attribute(session: Session, certificate: CertificateFacts | None) -> int | None:
    """The organisation a client certificate belongs to, or None."""
    if certificate is None:
        return None
    names = [n for n in (certificate.common_name, *certificate.dns_names) if n]
    best: tuple[int, int] | None = None  # (specificity, organisation id)
    for organisation_id, identities in session.execute(
        select(Organisation.id, Organisation.identities)
    ):
        for identity in identities or ():
            value = str(identity)
            if "=" in value:
                score = 10_000 if value == certificate.subject else -1
            else:
                score = len(value) if any(_domain_matches(value, n) for n in names) else -1
            if score >= 0 and (best is None or score > best[0]):
                best = (score, organisation_id)
    return best[1] if best else None


def claim(
    store: Store,
    organisation_id: int | None,
    *,
    exchange_ids: Iterable[str] = (),
    report_ids: Iterable[str] = (),
    run_id: str | None = None,
) -> None:
    """Give rows made on an organisation's behalf to it (rows already owned keep their owner)."""
    if organisation_id is None:
        return
    exchanges, reports = list(exchange_ids), list(report_ids)
    with store.session() as session:
        if exchanges:
            session.execute(
                update(ExchangeRecord)
                .where(ExchangeRecord.id.in_(exchanges), ExchangeRecord.organisation_id.is_(None))
                .values(organisation_id=organisation_id)
            )
        if reports:
            session.execute(
                update(ReportRecord)
                .where(ReportRecord.id.in_(reports), ReportRecord.organisation_id.is_(None))
                .values(organisation_id=organisation_id)
            )
        if run_id is not None:
            session.execute(
                update(ScenarioRun)
                .where(ScenarioRun.id == run_id, ScenarioRun.organisation_id.is_(None))
                .values(organisation_id=organisation_id)
            )


# What `owner_of_*` answers for a row that does not exist (told apart from "nobody's": None).
MISSING = -1


def owner_of_exchange(store: Store, exchange_id: str) -> int | None:
    with store.session() as session:
        row = session.execute(
            select(ExchangeRecord.organisation_id).where(ExchangeRecord.id == exchange_id[:36])
        ).first()
        return MISSING if row is None else row[0]


def owner_of_report(store: Store, report_id: str) -> int | None:
    """A report's organisation: its own, else its exchange's."""
    with store.session() as session:
        row = session.execute(
            select(ReportRecord.organisation_id, ExchangeRecord.organisation_id)
            .outerjoin(ExchangeRecord, ExchangeRecord.id == ReportRecord.exchange_id)
            .where(ReportRecord.id == report_id[:36])
        ).first()
        if row is None:
            return MISSING
        return row[0] if row[0] is not None else row[1]


def owner_of_run(store: Store, run_id: str) -> int | None:
    with store.session() as session:
        row = session.execute(
            select(ScenarioRun.organisation_id).where(ScenarioRun.id == run_id[:36])
        ).first()
        return MISSING if row is None else row[0]


def run_ids_of(store: Store, organisation_id: int) -> set[str]:
    """The ids of an organisation's scenario runs."""
    with store.session() as session:
        return set(
            session.scalars(
                select(ScenarioRun.id).where(ScenarioRun.organisation_id == organisation_id)
            )
        )
