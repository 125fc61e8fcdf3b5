"""background jobs: their subject, progress and outcome (exchanges, counters, verdict, file)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("background_jobs") as batch:
        batch.add_column(sa.Column("outcome", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("subject", sa.String(64), nullable=True))
        batch.create_index("ix_background_jobs_subject", ["subject"])


def downgrade() -> None:
    with op.batch_alter_table("background_jobs") as batch:
        batch.drop_index("ix_background_jobs_subject")
        batch.drop_column("subject")
        batch.drop_column("outcome")
