"""The data folder and the SQLite files (emails, password hashes) are private to the service."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import make_container, make_settings


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022, so that files made without an explicit mode would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_database_are_private(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    container = make_container(make_settings(data))
    try:
        database = data / "bitimage.db"
        assert container.settings.resolved_database_url.endswith(str(database))
        # The migration wrote through WAL, so the -wal and -shm files exist beside it.
        files = [database, data / "bitimage.db-wal", data / "bitimage.db-shm"]
        assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}
        assert _mode(data) == 0o700
        assert _mode(data / "secrets") == 0o700
        assert _mode(data / "secrets" / "cas_ed25519.pem") == 0o600
    finally:
        container.close()


def test_an_operators_folder_keeps_its_mode(tmp_path: Path) -> None:
    data = tmp_path / "chosen"
    data.mkdir(mode=0o750)
    elsewhere = tmp_path / "databases"
    elsewhere.mkdir(mode=0o755)
    url = f"sqlite:///{elsewhere / 'images.sqlite3'}"
    container = make_container(make_settings(data, database_url=url))
    try:
        assert _mode(data) == 0o750
        assert _mode(elsewhere) == 0o755
        assert _mode(elsewhere / "images.sqlite3") == 0o600
        assert _mode(elsewhere / "images.sqlite3-wal") == 0o600
    finally:
        container.close()
