"""SQLite's FTS5 typo query of a long name ORs its rarest trigrams (search/sqlite_grams.py)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.sqlite import SqliteSearchIndex
from bitimage.search.sqlite_grams import CAP, distinct, typo_grams
from bitimage.users.models import User
from tests.support import add_image_row

TARGET = "IMG_20210309_000656.jpg"


def _camera_names(session: Session, index: SqliteSearchIndex) -> tuple[uuid.UUID, uuid.UUID]:
    """CAP + 50 camera names (every one holds `img` and `jpg`), TARGET among them."""
    owner = uuid.uuid4()
    session.add(User(id=owner, image_upload_count=0))
    session.flush()
    entries, target = [], uuid.uuid4()
    for n in range(CAP + 50):
        name = TARGET if n == 7 else f"IMG_2019{n % 12 + 1:02d}{n % 28 + 1:02d}_{n:06d}.jpg"
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
        chosen = typo_grams(session, "name", term)
        assert chosen
        assert set(chosen) <= set(distinct(term))
        assert not {"img", "mg_", ".jp", "jpg"} & set(chosen)  # in every name
        page = index.search(session, SearchQuery(owner_id=owner, name=term, limit=5))
    assert page.image_ids[0] == target


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_common_trigrams_stay_when_the_rare_ones_cannot_fill_the_candidates(
    container: Container,
) -> None:
    index = SqliteSearchIndex(owner_scan=0)
    with container.database.transaction() as session:
        owner, target = _camera_names(session, index)
        # Its rare trigrams (`zqx`...) are in no name: the common ones are kept to find any.
        term = "img_zqxwvu_jpg"
        chosen = typo_grams(session, "name", term)
        assert "img" in chosen or "mg_" in chosen
        page = index.search(session, SearchQuery(owner_id=owner, name="img_2021030_000656.jpg"))
    assert target in page.image_ids
