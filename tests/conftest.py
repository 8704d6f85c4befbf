"""Fixtures: a fresh data folder, container and app per test, on real SQLite and the local store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bitimage.app import create_app
from bitimage.bootstrap import Container, bootstrap
from bitimage.config import Settings, load_settings
from bitimage.db.migrate import upgrade

# Tests must not pick up an operator's configuration.
for _name in [n for n in os.environ if n.startswith("BITIMAGE_")]:
    del os.environ[_name]

FAST_HASHING = {"argon2_memory_kib": 8192, "argon2_time_cost": 1}


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own folder, cheap (still argon2id) hashing, no background thread."""
    values: dict[str, object] = {"data_dir": data_dir, "run_worker": False, **FAST_HASHING}
    values.update(overrides)
    return load_settings(**values)


def make_container(settings: Settings) -> Container:
    """A migrated container."""
    container = bootstrap(settings)
    upgrade(container.database.engine)
    return container


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = make_container(settings)
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), base_url="http://127.0.0.1:8000") as test_client:
        yield test_client
