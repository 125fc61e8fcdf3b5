"""accounts of a shared environment: organisations, users, sessions, API tokens, login
throttle, monitors' run reviews; the organisation of each exchange, report and run

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12 00:06:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)
OWNED = ("exchanges", "reports", "scenario_runs")


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("identities", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "organisation_id",
            sa.Integer(),
            sa.ForeignKey("organisations.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_users_organisation_id", "users", ["organisation_id"])
    op.create_table(
        "login_sessions",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", WHEN, nullable=False),
    )
    op.create_table(
        "run_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "run_id",
            sa.String(36),
            sa.ForeignKey("scenario_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "monitor_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_run_reviews_run_id", "run_reviews", ["run_id"])
    for table in OWNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f"fk_{table}_organisation",
                "organisations",
                ["organisation_id"],
                ["id"],
                ondelete="SET NULL",
            )
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchanges_organisation_created", ["organisation_id", "created_at", "id"]
        )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_organisation_created", ["organisation_id", "created_at", "id"]
        )
    with op.batch_alter_table("scenario_runs", schema=None) as batch_op:
        batch_op.create_index("ix_scenario_runs_organisation_id", ["organisation_id"])


def downgrade() -> None:
    indexes = {
        "exchanges": "ix_exchanges_organisation_created",
        "reports": "ix_reports_organisation_created",
        "scenario_runs": "ix_scenario_runs_organisation_id",
    }
    for table in OWNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(indexes[table])
            batch_op.drop_constraint(f"fk_{table}_organisation", type_="foreignkey")
            batch_op.drop_column("organisation_id")
    for table in (
        "run_reviews",
        "login_throttle",
        "api_tokens",
        "login_sessions",
        "users",
        "organisations",
    ):
        op.drop_table(table)
