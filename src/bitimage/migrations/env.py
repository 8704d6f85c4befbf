"""Alembic environment: the URL comes from the caller (bitimage migrate) or from Settings."""

from __future__ import annotations

from alembic import context

import bitimage.models  # noqa: F401  - registers every table on Base.metadata
from bitimage.db.base import Base
from bitimage.db.session import create_db_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
