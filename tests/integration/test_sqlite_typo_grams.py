"""SQLite's FTS5 typo query of a long name leaves out its commonest trigrams (sqlite_grams.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from bitimage.search import sqlite_grams
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.sqlite import SqliteSearchIndex
from bitimage.search.sqlite_owned import spread
from bitimage.users.models import User
from tests.support import add_image_row, add_user

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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_common_trigrams_go_when_the_rare_ones_lie_apart(container: Container) -> None:
    """Fewer rows than the candidates, but two trigrams three apart: one typo of the term
    spoils one of them at most, so the common one (`.jp`, in every name) is left out."""
    index = SqliteSearchIndex(owner_scan=0)
    with container.database.transaction() as session:
        owner, _ = _camera_names(session, index)
        solar = add_image_row(session, owner, "solar.jpg")
        index.index(session, [SearchEntry(solar, "solar.jpg", [])])
        term = "solxr.jpg"  # one typo; spread: sol, olx, xr., .jp
        assert ".jp" in spread(term)
        assert sqlite_grams.typo_grams(session, "name", term) == ["sol", "olx", "xr."]
        page = index.search(session, SearchQuery(owner_id=owner, name=term, limit=5))
        # Spread over xar, ar., r.j, .jp: the rare ones (in solar.jpg) lie within three
        # characters, so one typo could spoil them all: the common one stays.
        assert sqlite_grams.typo_grams(session, "name", "xar.jpg") == spread("xar.jpg")
    assert page.image_ids == [solar]


def _matching(session: Session, fragment: str) -> set[str]:
    rows = session.execute(
        text("SELECT name FROM image_search WHERE image_search MATCH :m"), {"m": fragment}
    )
    return {name for (name,) in rows}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_long_terms_candidates_hold_two_of_its_trigrams(container: Container) -> None:
    """From 14 characters a candidate holds two of the spread trigrams: one typo of the whole
    term spoils one of them at most; a name holding one only is no candidate any more."""
    index = SqliteSearchIndex(owner_scan=0)
    term = "harbour sunset evening.jpg"
    grams = spread(term)
    typo = term.replace("sunset", "sunsat")  # one letter
    single = f"{grams[0]} zzzz"  # holds the first spread trigram only
    shorter = "harbour sunse"  # 11 trigrams: any one of them is enough
    with container.database.transaction() as session:
        owner = add_user(session)
        entries = []
        for name in (typo, single, "lake"):
            entries.append(SearchEntry(add_image_row(session, owner, name), name, []))
        index.index(session, entries)
        paired = sqlite_grams.typo_fragment(session, "name", term)
        assert " AND " in paired
        assert _matching(session, paired) == {typo}
        assert sum(gram in single for gram in grams) == 1
        assert " AND " not in sqlite_grams.typo_fragment(session, "name", shorter)
        assert single in _matching(session, sqlite_grams.typo_fragment(session, "name", "harbouz"))
        page = index.search(session, SearchQuery(owner_id=owner, name=term))
    assert page.image_ids == [entries[0].image_id]
