"""SQLite routes a private search by the owner's image count, counted once a minute per owner:
the count is kept, read again when it expires, bounded in number, and threads racing on it
all get the page the ranking says (both routes answer the same)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from bitimage.bootstrap import Container
from bitimage.search import sqlite as sqlite_index
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.sqlite import SqliteSearchIndex
from bitimage.users.models import User
from tests.support import add_image_row

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _owners(container: Container, count: int, images: int) -> dict[uuid.UUID, list[uuid.UUID]]:
    """`count` owners with `images` images named "harbour N" each: their ids, newest first."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    with container.database.transaction() as session:
        for _ in range(count):
            owner = uuid.uuid4()
            session.add(User(id=owner, image_upload_count=0))
            session.flush()
            ids = [add_image_row(session, owner, f"harbour {n}") for n in range(images)]
            entries = [SearchEntry(i, f"harbour {n}", [], []) for n, i in enumerate(ids)]
            container.search_index.index(session, entries)
            found[owner] = ids
    return found


def _counted(container: Container) -> list[str]:
    """The owner counts SQLite runs from now on (the statement's text, once each)."""
    seen: list[str] = []

    def capture(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        if "FROM image_search_rows WHERE user_id" in sql and "count(*)" in sql:
            seen.append(sql)

    event.listen(container.database.engine, "before_cursor_execute", capture)
    return seen


def _search(container: Container, owner: uuid.UUID) -> list[uuid.UUID]:
    with container.database.transaction(write=False) as session:
        page = container.search_index.search(session, SearchQuery(owner, name="harbour"))
    return page.image_ids


def _index(container: Container) -> SqliteSearchIndex:
    index = container.search_index
    assert isinstance(index, SqliteSearchIndex)
    return index


def test_an_owners_count_is_kept_a_minute(container: Container) -> None:
    index, clock = _index(container), Clock()
    index.clock = clock
    (owner,) = _owners(container, 1, 3)
    counted = _counted(container)
    first = _search(container, owner)
    assert len(first) == 3
    assert _search(container, owner) == first
    assert len(counted) == 1  # the second search used the kept count
    clock.advance(sqlite_index.COUNTS_SECONDS)
    assert _search(container, owner) == first
    assert len(counted) == 2  # expired: counted again
    index.owner_scan = 0  # another crossover: its own count (through FTS5 now)
    assert _search(container, owner) == first
    assert len(counted) == 3


def test_the_counts_kept_are_bounded(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_index, "MAX_COUNTS", 3)
    index = _index(container)
    owners = _owners(container, 7, 1)
    for owner, ids in owners.items():
        assert _search(container, owner) == ids
        assert len(index.counts) <= 3


def test_threads_racing_on_expiring_counts_get_the_same_pages(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_index, "MAX_COUNTS", 2)  # cleared while others read it
    index, clock = _index(container), Clock()
    index.clock = clock
    owners = _owners(container, 4, 3)
    expected = {owner: _search(container, owner) for owner in owners}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def run(worker: int) -> None:
        try:
            barrier.wait()
            for n in range(40):
                owner = list(owners)[(worker + n) % len(owners)]
                if n % 3 == 0:
                    clock.advance(sqlite_index.COUNTS_SECONDS / 2)  # counts keep expiring
                index.owner_scan = (worker + n) % 2 * 10  # both routes, under and over
                assert _search(container, owner) == expected[owner]
        except BaseException as exc:  # reported below, with every thread's
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(index.counts) <= 2
