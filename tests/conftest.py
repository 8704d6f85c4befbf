"""Fixtures: a fresh data folder, container and app per test, on real SQLite and the local store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from bitimage.config import Settings, load_settings
from bitimage.db.migrate import upgrade
from bitimage.db.session import create_db_engine
from tests.databases import empty_tables, fresh_postgres_database
from tests.support import app_client, make_container, make_settings

# Tests must not pick up an operator's configuration.
for _name in [n for n in os.environ if n.startswith("BITIMAGE_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the session; tests empty it before use."""
    with fresh_postgres_database() as url:
        settings = load_settings(data_dir=Path("unused"), database_url=url)
        engine = create_db_engine(settings.resolved_database_url)
        upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that touches the database runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bitimage.db'}"
    url: str = request.getfixturevalue("postgres_url")
    empty_tables(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = make_container(settings)
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with app_client(container) as test_client:
        yield test_client
