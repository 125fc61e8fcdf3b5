"""indexed listings for the portal: client subject, origin/time, study/time, report verdicts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 00:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_subject", sa.String(512), nullable=True))
        batch_op.create_index("ix_exchanges_client_subject", ["client_subject"])
        batch_op.create_index("ix_exchanges_origin_created", ["origin", "created_at", "id"])
        batch_op.create_index(
            "ix_exchanges_study_created", ["study_instance_uid", "created_at", "id"]
        )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_exchange_verdict", ["exchange_id", "verdict"])
    # rows kept before this revision: their subject is in the peer facts
    exchanges = sa.table(
        "exchanges",
        sa.column("id", sa.String),
        sa.column("peer", sa.JSON),
        sa.column("client_subject", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(exchanges.c.id, exchanges.c.peer)).all()
    for exchange_id, peer in rows:
        subject = (peer or {}).get("subject") if isinstance(peer, dict) else None
        if subject:
            connection.execute(
                exchanges.update()
                .where(exchanges.c.id == exchange_id)
                .values(client_subject=str(subject)[:512])
            )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_exchange_verdict")
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.drop_index("ix_exchanges_study_created")
        batch_op.drop_index("ix_exchanges_origin_created")
        batch_op.drop_index("ix_exchanges_client_subject")
        batch_op.drop_column("client_subject")
