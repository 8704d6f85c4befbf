"""SQLite's vocabulary trigram tables (migration 0017) follow every write of the vocabularies."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, text, update

from bitimage.analysis.ports import Label
from bitimage.analysis.repository import AnalysisRepository
from bitimage.bootstrap import Container
from bitimage.images.models import Tag
from bitimage.search.ports import SearchQuery
from bitimage.search.postings import LABELS, TAGS
from bitimage.search.tiered import TieredSearchIndex
from bitimage.users.models import User
from tests.support import add_image_row, set_tags


def _grams(container: Container, table: str) -> set[str]:
    with container.database.transaction(write=False) as session:
        return {name for (name,) in session.execute(text(f"SELECT name FROM {table}_grams"))}  # noqa: S608


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_new_names_are_found_by_a_typo_at_once(container: Container) -> None:
    """A tag and a label written after the migration are typo candidates in the same breath."""
    index = container.search_index
    assert isinstance(index, TieredSearchIndex)
    owner = uuid.uuid4()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))
        session.flush()
        image_id = add_image_row(session, owner, "img")
        set_tags(session, image_id, ["marmalade"])
        AnalysisRepository(session).replace_labels(image_id, "a1", "m", [Label("porcupine", 0.9)])
    assert "marmalade" in _grams(container, "tags")
    assert "porcupine" in _grams(container, "content_labels")
    with container.database.transaction(write=False) as session:
        assert [n for _, n in index._similar_names(session, TAGS, "marmelade")] == ["marmalade"]
        assert [n for _, n in index._similar_names(session, LABELS, "porcupin")] == ["porcupine"]
        page = index.search(session, SearchQuery(owner, tag="marmelade"))
    assert page.image_ids == [image_id]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_renamed_and_deleted_names_leave_the_grams(container: Container) -> None:
    """The triggers keep one row per vocabulary entry, under its current name."""
    with container.database.transaction() as session:
        session.add_all([Tag(name="lighthouse"), Tag(name="harbour")])
    with container.database.transaction() as session:
        session.execute(update(Tag).where(Tag.name == "harbour").values(name="harbor"))
        session.execute(delete(Tag).where(Tag.name == "lighthouse"))
    assert _grams(container, "tags") == {"harbor"}
