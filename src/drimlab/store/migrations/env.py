"""Alembic environment: runs on the engine the Store hands over (no alembic.ini needed)."""

from alembic import context
from sqlalchemy import Engine

from drimlab.store.models import Base

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
