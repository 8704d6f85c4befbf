"""Throw-away PostgreSQL databases for the tests (BITIMAGE_TEST_POSTGRES_URL to point elsewhere)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# Read before conftest clears BITIMAGE_* variables: this one configures the tests themselves.
ADMIN_URL = os.environ.get(
    "BITIMAGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Rows the migrations seed: kept (alembic's) or put back as the migration left them.
KEEP_TABLES = {"alembic_version", "image_vector_index"}


def _driver_url(url: str) -> str:
    return "postgresql+psycopg://" + url.removeprefix("postgresql://")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    name = f"bitimage_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_driver_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a missing service fails the run; it is never skipped
        admin.dispose()
        pytest.fail(f"PostgreSQL at {ADMIN_URL} is not usable ({exc.__class__.__name__}: {exc})")
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_tables(url: str) -> None:
    """Delete every row (the schema stays): a clean database for the next test, quickly."""
    engine = create_engine(_driver_url(url))
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if row[0] not in KEEP_TABLES
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        conn.execute(text("UPDATE image_vector_index SET generation = 0, lists = 0"))
    engine.dispose()
