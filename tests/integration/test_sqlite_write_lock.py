"""SQLite writers of different processes (here: engines) wait for each other, then give up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bitimage.db import session as db_session
from bitimage.db.session import Database, create_db_engine
from bitimage.errors import ServiceUnavailable


def _databases(tmp_path: Path) -> tuple[Database, Database]:
    """Two engines on one file, each with its own in-process write lock, like two processes."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first, second = Database(create_db_engine(url)), Database(create_db_engine(url))
    with first.transaction() as session:
        session.execute(text("CREATE TABLE marks (who TEXT)"))
    return first, second


def _marks(database: Database) -> list[str]:
    with database.transaction(write=False) as session:
        return list(session.scalars(text("SELECT who FROM marks ORDER BY rowid")))


def test_a_writer_waits_for_the_other_writer_then_goes_on(tmp_path: Path) -> None:
    first, second = _databases(tmp_path)
    failures: list[BaseException] = []

    def second_writer() -> None:
        try:
            with second.transaction() as session:
                session.execute(text("INSERT INTO marks VALUES ('second')"))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    with first.transaction() as session:
        session.execute(text("INSERT INTO marks VALUES ('first')"))
        waiter = threading.Thread(target=second_writer)
        waiter.start()
        waiter.join(timeout=0.3)
        # It cannot have written while this transaction holds the write lock.
        assert waiter.is_alive()
        assert not failures
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert not failures
    assert _marks(first) == ["first", "second"]


def test_a_writer_gives_up_as_the_database_being_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _databases(tmp_path)
    monkeypatch.setattr(db_session, "_BUSY_TIMEOUT", 0.05)
    with first.transaction() as session:
        session.execute(text("INSERT INTO marks VALUES ('first')"))
        # Contention, not an outage: a 503 that says the database was busy, not unavailable.
        with (
            pytest.raises(ServiceUnavailable, match="busy") as caught,
            second.transaction() as other,
        ):
            other.execute(text("INSERT INTO marks VALUES ('second')"))
        assert caught.value.headers == {"Retry-After": "1"}
        assert isinstance(caught.value.__cause__, OperationalError)
        assert "locked" in str(caught.value.__cause__)
    # Nothing of the refused writer was kept, and its connection writes again afterwards.
    with second.transaction() as session:
        session.execute(text("INSERT INTO marks VALUES ('again')"))
        assert session.scalar(text("PRAGMA busy_timeout")) == 50
    assert _marks(second) == ["first", "again"]
