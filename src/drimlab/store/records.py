"""Keeping exchanges and reports: bodies on disk named by SHA-256, the rest in the database.

A body is streamed to a temporary file in `Settings.bodies_dir` while it is hashed, then
renamed to its SHA-256 (identical bodies are stored once). A chunked body captured raw is
stored decoded. Paths in the database are relative to the drimlab home.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, cast, get_args

from drimlab.dicomweb.paths import PathError, parse_target
from drimlab.domain import KOS_HEADER
from drimlab.errors import InputError, StoreError
from drimlab.exchange import BodySource, Exchange, Origin, PartRecord, iter_body
from drimlab.store.db import Store
from drimlab.store.models import ExchangeRecord, ReportRecord
from drimlab.store.ownership import attribute
from drimlab.validation.report import Report


def store_body(store: Store, source: BodySource) -> str:
    """Write a body, byte for byte as captured (a chunked one stays chunked: its framing is
    evidence), under bodies_dir, named by its SHA-256; return its path relative to home.
    """
    folder = store.settings.bodies_dir
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in iter_body(source):
                digest.update(chunk)
                handle.write(chunk)
        final = folder / digest.hexdigest()
        if final.exists():
            os.unlink(temp_name)
            os.utime(final)  # used again now: the purge leaves a recently used body alone
        else:
            os.replace(temp_name, final)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise StoreError(f"cannot store a body in {folder}: {exc}") from exc
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return str(final.relative_to(store.settings.home))


def _study_of(exchange: Exchange) -> str | None:
    if not exchange.target:
        return None
    try:
        study = parse_target(exchange.target).study
    except PathError:
        return None
    return study[:64]


def save_exchange(
    store: Store,
    exchange: Exchange,
    *,
    note: str = "",
    exchange_id: str | None = None,
    organisation_id: int | None = None,
) -> str:
    """Store an Exchange (bodies to disk, `Exchange.as_dict()` and query columns as a row).

    The server simulator's exchanges belong to the organisation of the client certificate
    that made them (`ownership.attribute`); others to `organisation_id` when given.

    The exchange's part manifest says what the response held when the body itself is not
    kept (the server simulator sends catalogue files: it records which, with sizes and SHA-256).
    An iterable body is consumed: keep the stored copy (`load_exchange`) to read it again.
    `exchange_id` gives the row the id the capture already knows it by (a request id).
    """
    record = exchange_row(store, exchange, note=note, exchange_id=exchange_id)
    with store.session() as session:
        _own(session, record, exchange, organisation_id)
        session.add(record)
    return record.id


def _own(session: Any, record: ExchangeRecord, exchange: Exchange, given: int | None) -> None:
    """The organisation an exchange row belongs to: `given`, else for the server simulator's
    exchanges the organisation of the client certificate that made them."""
    if given is None and exchange.origin == "server":
        given = attribute(session, exchange.tls.peer if exchange.tls else None)
    record.organisation_id = given


def exchange_row(
    store: Store, exchange: Exchange, *, note: str = "", exchange_id: str | None = None
) -> ExchangeRecord:
    """The row `save_exchange` adds (its bodies already written to disk)."""
    request_body = (
        store_body(store, exchange.request_body) if exchange.request_body is not None else None
    )
    response_body = (
        store_body(store, exchange.response_body) if exchange.response_body is not None else None
    )
    kos = exchange.request_header(KOS_HEADER)
    peer = exchange.tls.peer if exchange.tls else None
    home = store.settings.home
    written = sum((home / p).stat().st_size for p in (request_body, response_body) if p)
    return ExchangeRecord(
        id=exchange_id or str(uuid.uuid4()),
        origin=exchange.origin,
        # captured traffic may carry anything; PostgreSQL refuses an over-long VARCHAR
        method=(exchange.method or "")[:16],
        target=exchange.target or "",
        request_headers=[[k, v] for k, v in exchange.request_headers],
        request_body_path=request_body,
        status=exchange.status,
        response_headers=[[k, v] for k, v in exchange.response_headers],
        response_body_path=response_body,
        parts=[p.as_dict() for p in exchange.parts],
        peer=peer.as_dict() if peer else {},
        timings=dict(exchange.timings),
        study_instance_uid=_study_of(exchange),
        kos_sop_instance_uid=kos.strip()[:64] if kos else None,
        client_subject=peer.subject[:512] if peer and peer.subject else None,
        note=note or exchange.label,
        facts={**exchange.as_dict(), "method": (exchange.method or "")[:16] or None},
        stored_bytes=written,
    )


def save_exchange_and_report(
    store: Store,
    exchange: Exchange,
    report: Report,
    *,
    exchange_id: str | None = None,
    kind: str | None = None,
    organisation_id: int | None = None,
) -> tuple[str, str]:
    """Store an exchange and its report in one transaction: both are kept, or neither.

    Both belong to the exchange's organisation (see `save_exchange`).

    Return (exchange id, report id). Bodies are written first (named by their SHA-256, a body
    left by a failed transaction is only an unreferenced copy).
    """
    exchange_record = exchange_row(store, exchange, exchange_id=exchange_id)
    if not exchange_record.parts and report.parts:
        exchange_record.parts = [p.as_dict() for p in report.parts]
        exchange_record.facts = {**(exchange_record.facts or {}), "parts": exchange_record.parts}
    report_record = report_row(report, exchange_id=exchange_record.id, kind=kind)
    with store.session() as session:
        _own(session, exchange_record, exchange, organisation_id)
        report_record.organisation_id = exchange_record.organisation_id
        session.add(exchange_record)
        session.flush()  # the exchange row first: the report refers to it
        session.add(report_record)
    return exchange_record.id, report_record.id


def _headers(rows: list[Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in rows)


def _origin(value: str) -> Origin:
    for known in get_args(Origin):
        if value == known:
            return cast(Origin, known)
    return "file"


def load_exchange(store: Store, exchange_id: str) -> Exchange:
    """The stored Exchange with that id (bodies read from disk); InputError if unknown."""
    home = store.settings.home
    with store.session() as session:
        row = session.get(ExchangeRecord, exchange_id)
        if row is None:
            raise InputError(f"no stored exchange {exchange_id!r}")
        request_body = home / row.request_body_path if row.request_body_path else None
        response_body = home / row.response_body_path if row.response_body_path else None
        if row.facts:
            return Exchange.from_dict(
                row.facts, request_body=request_body, response_body=response_body
            )
        return Exchange(  # a row written before the whole Exchange was kept
            method=row.method or None,
            target=row.target or None,
            request_headers=_headers(row.request_headers),
            request_body=request_body,
            status=row.status,
            response_headers=_headers(row.response_headers),
            response_body=response_body,
            timings=dict(row.timings),
            origin=_origin(row.origin),
            label=row.note,
            parts=tuple(PartRecord.from_dict(p) for p in row.parts or ()),
        )


def save_report(
    store: Store,
    report: Report,
    *,
    exchange_id: str | None = None,
    kind: str | None = None,
    organisation_id: int | None = None,
    stored_bytes: int = 0,
) -> str:
    """Store a Report (whole, as JSON) linked to its exchange; return its id.

    It belongs to `organisation_id` when given, else to its exchange's organisation.
    `stored_bytes` are the bytes of the uploaded inputs kept with it (its quota counts them).
    """
    record = report_row(report, exchange_id=exchange_id, kind=kind)
    record.organisation_id = organisation_id
    record.stored_bytes = stored_bytes
    with store.session() as session:
        row = session.get(ExchangeRecord, exchange_id) if exchange_id is not None else None
        if organisation_id is None and row is not None:
            record.organisation_id = row.organisation_id
        session.add(record)
        # a manifest given with the exchange (e.g. where each part was kept) wins
        if report.parts and row is not None and not row.parts:
            row.parts = [p.as_dict() for p in report.parts]
            row.facts = {**(row.facts or {}), "parts": row.parts}
    return record.id


def report_row(
    report: Report, *, exchange_id: str | None = None, kind: str | None = None
) -> ReportRecord:
    """The row `save_report` adds."""
    facts = report.facts
    found = facts.get("request")
    request: dict[str, Any] = found if isinstance(found, dict) else {}
    return ReportRecord(
        id=str(uuid.uuid4()),
        exchange_id=exchange_id,
        kind=kind or str(facts.get("kind", "exchange"))[:32],
        subject=report.subject,
        profile=report.profile,
        verdict=report.verdict.value,
        study_instance_uid=(str(request.get("study"))[:64] if request.get("study") else None),
        kos_sop_instance_uid=None,
        data=report.as_dict(),
    )


def load_report(store: Store, report_id: str) -> Report:
    """The stored Report with that id; InputError if unknown."""
    with store.session() as session:
        row = session.get(ReportRecord, report_id)
        if row is None:
            raise InputError(f"no stored report {report_id!r}")
        return Report.from_dict(row.data)
