"""users: the client certificate (its SHA-256) a user may log in with

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("certificate_sha256", sa.String(64), nullable=True))
        batch.create_index("ix_users_certificate_sha256", ["certificate_sha256"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_certificate_sha256")
        batch.drop_column("certificate_sha256")
