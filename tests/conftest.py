"""Fixtures: a fresh data folder, container and app per test, on real SQLite and the local store."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bitimage.app import create_app
from bitimage.bootstrap import Container, bootstrap
from bitimage.config import Settings, load_settings
from bitimage.db.migrate import upgrade
from bitimage.db.session import create_db_engine
from tests.databases import empty_tables, fresh_postgres_database

# Tests must not pick up an operator's configuration.
for _name in [n for n in os.environ if n.startswith("BITIMAGE_")]:
    del os.environ[_name]

# Converted models are a cache keyed by version, written atomically: one for every test.
MODEL_CACHE = Path(tempfile.gettempdir()) / "bitimage-test-models"
FAST_HASHING = {"argon2_memory_kib": 8192, "argon2_time_cost": 1}


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own folder, cheap (still argon2id) hashing, no background thread."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "run_worker": False,
        "model_cache_dir": MODEL_CACHE,
        **FAST_HASHING,
    }
    values.update(overrides)
    return load_settings(**values)


def make_container(settings: Settings) -> Container:
    """A migrated container."""
    container = bootstrap(settings)
    upgrade(container.database.engine)
    return container


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


@contextmanager
def app_client(container: Container, **options: Any) -> Iterator[TestClient]:
    """Starlette's test client over the real app built on `container`, at the seed's base URL."""
    with TestClient(create_app(container), base_url="http://127.0.0.1:8000", **options) as client:
        yield client


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with app_client(container) as test_client:
        yield test_client
