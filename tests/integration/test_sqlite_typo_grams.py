"""SQLite's FTS5 typo query of a long name leaves out its commonest trigrams (sqlite_grams.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from bitimage.search import sqlite_grams
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.sqlite import SqliteSearchIndex
from bitimage.search.sqlite_owned import spread
from bitimage.users.models import User
from tests.support import add_image_row

TARGET = "IMG_20210309_000656.jpg"
CAP = 100  # the test's cap: 150 names hold `img`


@pytest.fixture(autouse=True)
def _small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_grams, "CAP", CAP)
    monkeypatch.setattr(sqlite_grams, "FUZZY_CANDIDATES", 3)


def _camera_names(session: Session, index: SqliteSearchIndex) -> tuple[uuid.UUID, uuid.UUID]:
    """150 camera names (every one holds `img` and `jpg`), TARGET among them."""
    owner = uuid.uuid4()
    session.add(User(id=owner, image_upload_count=0))
    session.flush()
    entries, target = [], uuid.uuid4()
    for n in range(150):
        name = TARGET if n == 7 else f"IMG_2021{n % 12 + 1:02d}{n % 28 + 1:02d}_{n:06d}.jpg"
        image_id = add_image_row(session, owner, name)
        target = image_id if n == 7 else target
        entries.append(SearchEntry(image_id, name, []))
    index.index(session, entries)
    return owner, target


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_long_names_typo_query_leaves_its_common_trigrams_out(container: Container) -> None:
    index = SqliteSearchIndex(owner_scan=0)  # every owner through FTS5
    with container.database.transaction() as session:
        owner, target = _camera_names(session, index)
        term = "img_20210309_000657.jpg"  # one typo: the last digit
        chosen = sqlite_grams.typo_grams(session, "name", term)
        assert "img" in spread(term)
        assert chosen
        assert set(chosen) < set(spread(term))
        assert "img" not in chosen  # in every name
        page = index.search(session, SearchQuery(owner_id=owner, name=term, limit=5))
    assert page.image_ids[0] == target


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_common_trigrams_stay_when_the_rare_ones_cannot_fill_the_candidates(
    container: Container,
) -> None:
    index = SqliteSearchIndex(owner_scan=0)
    with container.database.transaction() as session:
        owner, target = _camera_names(session, index)
        # Its other spread trigrams are in no name: the common one is kept to find any.
        term = "img_zqxwvu_qjzk"
        assert sqlite_grams.typo_grams(session, "name", term) == spread(term)
        page = index.search(session, SearchQuery(owner_id=owner, name="img_2021030_000656.jpg"))
    assert target in page.image_ids
