"""instance file sizes as 64-bit integers (a file may be larger than 2 GiB)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 00:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("instance_files", schema=None) as batch_op:
        batch_op.alter_column(
            "size", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("instance_files", schema=None) as batch_op:
        batch_op.alter_column(
            "size", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
