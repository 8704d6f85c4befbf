"""The fake unit of work keeps the real one's contract (Database.run): the same checks on both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bitimage.db.session import Database, after_commit, on_rollback
from tests.fakes import FakeUnitOfWork

Runner = Callable[[Callable[[Session], Any]], Any]


@pytest.fixture(params=["database", "fake"])
def run(request: pytest.FixtureRequest, engine: Engine) -> Runner:
    """Database.run as an entrypoint uses it, or the fake."""
    if request.param == "database":
        return Database(engine).run
    return FakeUnitOfWork(engine)


def test_after_commit_runs_once_the_work_is_committed(run: Runner, engine: Engine) -> None:
    seen: list[int] = []

    def work(session: Session) -> str:
        session.execute(text("CREATE TABLE IF NOT EXISTS uow_probe (n INTEGER)"))
        session.execute(text("INSERT INTO uow_probe VALUES (1)"))
        after_commit(session, lambda: seen.append(_count(engine)))
        on_rollback(session, lambda: seen.append(-1))
        return "answer"

    before = _count_or_zero(engine)
    assert run(work) == "answer"
    assert seen == [before + 1]  # run after the commit, which a new read sees


def test_a_failed_unit_is_rolled_back_its_hooks_dropped_and_undone(
    run: Runner, engine: Engine
) -> None:
    seen: list[str] = []

    def work(session: Session) -> None:
        session.execute(text("CREATE TABLE IF NOT EXISTS uow_probe (n INTEGER)"))
        session.execute(text("INSERT INTO uow_probe VALUES (2)"))
        after_commit(session, lambda: seen.append("after commit"))
        on_rollback(session, lambda: seen.append("undone"))
        raise LookupError("the service refused")

    before = _count_or_zero(engine)
    with pytest.raises(LookupError):
        run(work)
    assert seen == ["undone"]
    assert _count_or_zero(engine) == before


def _count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM uow_probe")).scalar_one())


def _count_or_zero(engine: Engine) -> int:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS uow_probe (n INTEGER)"))
    return _count(engine)
