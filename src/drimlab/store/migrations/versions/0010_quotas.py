"""quotas per organisation, and the bytes each exchange and report keeps on disk

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(sa.Column("quota_exchanges", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quota_bytes", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("exchanges") as batch:
        batch.add_column(
            sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.create_index("ix_exchanges_request_body_path", ["request_body_path"])
        batch.create_index("ix_exchanges_response_body_path", ["response_body_path"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(
            sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("stored_bytes")
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_index("ix_exchanges_response_body_path")
        batch.drop_index("ix_exchanges_request_body_path")
        batch.drop_column("stored_bytes")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("quota_bytes")
        batch.drop_column("quota_exchanges")
