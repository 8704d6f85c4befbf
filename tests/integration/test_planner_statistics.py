"""SQLite's planner statistics: gathered after a migration, again when the images double or
halve, never on PostgreSQL; a pass beside writers neither fails nor loses a write."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bitimage.bootstrap import Container
from bitimage.cli.starting import prepare
from bitimage.db.session import Database, create_db_engine
from bitimage.db.statistics import PlannerStatistics, due, recorded_images
from bitimage.users.models import User
from tests.support import add_image_row, make_settings


def _add_images(container: Container, owner: uuid.UUID, count: int) -> None:
    with container.database.transaction() as session:
        if session.get(User, owner) is None:
            session.add(User(id=owner, image_upload_count=0))
            session.flush()
        for n in range(count):
            add_image_row(session, owner, f"photo {n}.jpg")


def _recorded(database: Database) -> int | None:
    with database.engine.connect() as connection:
        return recorded_images(connection)


def _stat_tables(database: Database) -> set[str]:
    with database.transaction(write=False) as session:
        return set(session.scalars(text("SELECT DISTINCT tbl FROM sqlite_stat1")))


def test_the_rule_is_a_twofold_change_either_way() -> None:
    assert not due(0, None)  # an empty library: nothing to plan
    assert due(1, None)
    assert due(500, None)
    assert not due(150, 100)
    assert not due(199, 100)
    assert due(200, 100)
    assert not due(51, 100)
    assert due(50, 100)
    assert due(2, 0)  # a library that had no images then
    assert not due(1, 0)


def test_migrating_a_fresh_sqlite_database_gathers_statistics(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", auto_migrate=True)
    container = prepare(settings)
    try:
        # An empty library is not analysed: no figures, and no pass that finds it so again.
        assert _recorded(container.database) is None
        report = container.statistics.run()
        assert report is not None
        assert not report.analysed
        _add_images(container, uuid.uuid4(), 30)
    finally:
        container.close()
    container = prepare(settings)  # a restart: the images were never analysed
    try:
        assert _recorded(container.database) == 30
        assert "images" in _stat_tables(container.database)
    finally:
        container.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_statistics_are_gathered_again_only_once_the_images_double(
    container: Container,
) -> None:
    statistics = container.statistics
    owner = uuid.uuid4()
    _add_images(container, owner, 40)
    first = statistics.run()
    assert first is not None
    assert first.analysed
    assert first.recorded is None
    assert set(first.seconds) == {
        "images",
        "image_tags",
        "image_content_labels",
        "image_search_rows",
        "tags",
        "content_labels",
    }  # image_search_words is PostgreSQL's only
    assert _recorded(container.database) == 40
    _add_images(container, owner, 39)  # 79: under twice 40
    again = statistics.run()
    assert again is not None
    assert not again.analysed
    assert (again.images, again.recorded) == (79, 40)
    assert _recorded(container.database) == 40
    _add_images(container, owner, 1)  # 80: twice
    doubled = statistics.run()
    assert doubled is not None
    assert doubled.analysed
    assert _recorded(container.database) == 80
    with container.database.transaction() as session:
        session.execute(
            text("DELETE FROM images WHERE rowid IN (SELECT rowid FROM images LIMIT :n)"), {"n": 40}
        )
    halved = statistics.run()
    assert halved is not None
    assert halved.analysed
    assert _recorded(container.database) == 40


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_is_left_to_autovacuum(container: Container) -> None:
    _add_images(container, uuid.uuid4(), 3)
    assert container.statistics.run() is None
    assert container.statistics.run(force=True) is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_passes_beside_writers_lose_nothing_and_fail_nothing(container: Container) -> None:
    """Two passes (as two workers' processes: engines of their own) race writers, many times.

    Each pass checks the count, then analyses table by table, each in a write transaction:
    a writer between two tables, or a second pass deciding on the same count, must wait, not
    fail, and every write must stay.
    """
    url = str(container.database.engine.url)
    others = [Database(create_db_engine(url)) for _ in range(2)]
    passes = [PlannerStatistics(database) for database in others]
    owner = uuid.uuid4()
    _add_images(container, owner, 1)
    failures: list[BaseException] = []
    written = 1
    try:
        for round_ in range(12):
            start = threading.Barrier(4)

            def analyse(
                statistics: PlannerStatistics,
                start: threading.Barrier = start,
                force: bool = round_ % 2 == 0,
            ) -> None:
                try:
                    start.wait()
                    statistics.run(force=force)
                except BaseException as exc:  # reported by the assertion below
                    failures.append(exc)

            def write(count: int, start: threading.Barrier = start) -> None:
                try:
                    start.wait()
                    for _ in range(count):
                        _add_images(container, owner, 1)
                except BaseException as exc:  # reported by the assertion below
                    failures.append(exc)

            threads = [threading.Thread(target=analyse, args=(p,)) for p in passes]
            threads += [threading.Thread(target=write, args=(5,)) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(thread.is_alive() for thread in threads)
            written += 10
            assert not failures
        with container.database.transaction(write=False) as session:
            assert session.execute(text("SELECT count(*) FROM images")).scalar_one() == written
        assert _recorded(container.database) is not None
    finally:
        for database in others:
            database.engine.dispose()
