"""no bearer token kept: redact the credential headers of rows stored before redaction

Rows written before `Exchange` redacted credentials hold the `Authorization` header in clear,
in the `request_headers` column and in the `facts` JSON. Each such row gets the facts the
DRIM token rules judge (`facts.credentials`) and its headers redacted, as a new row would.
Irreversible on purpose: the downgrade keeps the redaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12 00:06:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from drimlab.facts.credentials import (
    credential_facts,
    is_credential_header,
    is_redacted,
    redact,
)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _redacted(rows: Any) -> tuple[list[list[str]], str | None]:
    """The header rows redacted, and the first clear Authorization value (if any)."""
    out: list[list[str]] = []
    clear: str | None = None
    for row in rows or []:
        if not isinstance(row, list | tuple) or len(row) != 2:
            continue
        name, value = str(row[0]), str(row[1])
        if is_credential_header(name) and not is_redacted(value):
            if clear is None and name.strip().lower() == "authorization":
                clear = value
            value = redact(value)
        out.append([name, value])
    return out, clear


def upgrade() -> None:
    exchanges = sa.table(
        "exchanges",
        sa.column("id", sa.String),
        sa.column("request_headers", sa.JSON),
        sa.column("facts", sa.JSON),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(exchanges.c.id, exchanges.c.request_headers, exchanges.c.facts)
    ).all()
    for exchange_id, headers, stored in rows:
        columns, clear = _redacted(headers)
        facts = dict(stored) if isinstance(stored, dict) else {}
        kept, clear_in_facts = _redacted(facts.get("request_headers"))
        clear = clear or clear_in_facts
        if (
            clear is None
            and columns == (headers or [])
            and kept == (facts.get("request_headers") or [])
        ):
            continue
        if "request_headers" in facts:
            facts["request_headers"] = kept
            if clear is not None and not facts.get("credentials"):
                facts["credentials"] = credential_facts(clear).as_dict()
        connection.execute(
            exchanges.update()
            .where(exchanges.c.id == exchange_id)
            .values(request_headers=columns, facts=facts)
        )


def downgrade() -> None:
    """Nothing to undo: a redacted token is not given back."""
