"""Alembic environment: runs against the engine siyu hands over (see store/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from siyu.store.models import metadata

config = context.config
engine = config.attributes.get("engine") or create_engine(
    str(config.get_main_option("sqlalchemy.url"))
)

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # Two processes opening a fresh database at once must not both migrate it.
        connection.execute(text("SELECT pg_advisory_lock(727001)"))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_unlock(727001)"))
    connection.commit()
