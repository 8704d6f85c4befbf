"""Database.run: a unit of work that loses to contention is rolled back and run again, whole.

Deadlocks (40P01), serialization failures (40001) and a busy SQLite are retried a bounded
number of times, then reported as ServiceUnavailable ("busy", Retry-After) and logged as
contention; every other error is raised at once, unchanged.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bitimage.db import session as db_session
from bitimage.db.errors import is_contention
from bitimage.db.session import Database, after_commit, create_db_engine
from bitimage.errors import NotFound, ServiceUnavailable
from bitimage.users.models import User
from tests.databases import empty_tables
from tests.support import make_container, make_settings


class FakePgError(Exception):
    """What psycopg raises: the SQLSTATE is on the exception."""

    def __init__(self, sqlstate: str | None, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def pg_error(sqlstate: str | None, cls: type[DBAPIError] = OperationalError) -> DBAPIError:
    return cls("UPDATE images SET ...", {}, FakePgError(sqlstate, f"error {sqlstate}"))


def sqlite_locked() -> DBAPIError:
    return OperationalError("BEGIN IMMEDIATE", (), sqlite3.OperationalError("database is locked"))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    built = Database(create_db_engine(database_url))
    if database_url.startswith("sqlite"):  # PostgreSQL's is migrated; these tests need users
        cast(Table, User.__table__).create(built.engine)
    yield built
    built.engine.dispose()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_session, "_BACKOFF_BASE", 0.001)


def failing(errors: list[Exception], calls: list[int]) -> Callable[[Session], str]:
    """Work that queries, then raises the next of `errors`; returns "done" once they ran out."""

    def work(session: Session) -> str:
        calls.append(len(calls) + 1)
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: calls.append(-len(calls)))
        if errors:
            raise errors.pop(0)
        return "done"

    return work


@pytest.mark.parametrize(
    "error",
    [lambda: pg_error("40P01"), lambda: pg_error("40001"), sqlite_locked],
    ids=["deadlock", "serialization", "sqlite-busy"],
)
def test_contention_is_run_again_until_it_succeeds(
    database: Database, error: Callable[[], Exception]
) -> None:
    calls: list[int] = []
    assert database.run(failing([error(), error()], calls)) == "done"
    # Three runs; only the committed one's after-commit action ran.
    assert calls == [1, 2, 3, -3]


def test_a_rolled_back_run_leaves_nothing_behind(database: Database) -> None:
    user_id, runs = uuid.uuid4(), []

    def work(session: Session) -> int:
        seen = session.scalar(select(func.count()).select_from(User).where(User.id == user_id))
        runs.append(seen or 0)
        session.add(User(id=user_id, image_upload_count=0))
        session.flush()
        if len(runs) == 1:
            raise pg_error("40P01")
        return len(runs)

    assert database.run(work) == 2
    assert runs == [0, 0]  # the second run started from scratch


def test_gives_up_after_the_last_attempt_as_busy_not_unavailable(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    with pytest.raises(ServiceUnavailable) as caught:
        database.run(failing([pg_error("40P01") for _ in range(5)], calls), attempts=3)
    assert calls == [1, 2, 3]
    assert caught.value.status_code == 503
    assert caught.value.headers == {"Retry-After": "1"}
    assert "busy" in caught.value.message
    assert isinstance(caught.value.__cause__, OperationalError)
    assert "contention" in caplog.text
    assert "unavailable" not in caplog.text


@pytest.mark.parametrize(
    "error",
    [
        lambda: pg_error("23505", IntegrityError),  # unique violation: input, not contention
        lambda: pg_error(None),  # connection refused: an outage, reported as one
        lambda: pg_error("57014"),  # statement timeout
        lambda: OperationalError("SELECT", (), sqlite3.OperationalError("disk I/O error")),
        lambda: ValueError("a bug"),
        lambda: NotFound("Image x was not found"),
    ],
)
def test_other_errors_are_never_retried(database: Database, error: Callable[[], Exception]) -> None:
    calls: list[int] = []
    raised = error()
    with pytest.raises(type(raised)) as caught:
        database.run(failing([raised], calls))
    assert caught.value is raised
    assert calls == [1]
    assert not is_contention(raised)


def test_a_transaction_block_reports_contention_as_busy(database: Database) -> None:
    def block(error: Exception) -> None:
        with database.transaction() as session:
            session.execute(text("SELECT 1"))
            raise error

    with pytest.raises(ServiceUnavailable, match="busy"):
        block(pg_error("40P01"))
    with pytest.raises(IntegrityError):
        block(pg_error("23505", IntegrityError))


def test_a_real_deadlock_on_postgresql_is_resolved_by_running_again(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two units of work lock two rows in crossed order; PostgreSQL aborts one, it runs again.

    PostgreSQL only: SQLite's single writer cannot deadlock (the other tests cover it).
    """
    empty_tables(postgres_url)
    container = make_container(make_settings(tmp_path, database_url=postgres_url))
    database = container.database
    first, second = uuid.uuid4(), uuid.uuid4()
    with database.transaction() as session:
        session.add_all(
            [User(id=first, image_upload_count=0), User(id=second, image_upload_count=0)]
        )
    both_locked = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def crossed(one: uuid.UUID, other: uuid.UUID) -> None:
        runs = 0

        def work(session: Session) -> None:
            nonlocal runs
            runs += 1
            session.execute(select(User).where(User.id == one).with_for_update()).one()
            if runs == 1:  # first run only: meet the other holder, then reach for its row
                both_locked.wait()
            session.execute(select(User).where(User.id == other).with_for_update()).one()

        try:
            database.run(work)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=crossed, args=(first, second)),
        threading.Thread(target=crossed, args=(second, first)),
    ]
    with caplog.at_level(logging.INFO, logger="bitimage.db"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    container.close()
    assert errors == []
    assert "deadlock detected" in caplog.text  # it did happen, and was run again
