"""The service tier's fixtures: one in-memory database per module, fresh fakes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bitimage.config import Settings
from tests.fakes import memory_engine
from tests.support import make_settings
from tests.unit.services import Services


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """One migrated in-memory database per module (about 0.1 s); tests use fresh user ids."""
    engine = memory_engine()
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Default settings, built once per module."""
    return make_settings(Path(tmp_path_factory.mktemp("unit")))


@pytest.fixture
def services(base_settings: Settings, engine: Engine) -> Services:
    """Fresh fakes and services over the module's database."""
    return Services(base_settings, engine)
