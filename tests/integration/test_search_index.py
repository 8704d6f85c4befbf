"""Each database's search index: re-indexing an image replaces its text, never doubles it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from bitimage.analysis.ports import Label
from bitimage.analysis.repository import AnalysisRepository
from bitimage.bootstrap import Container
from bitimage.images.models import Image
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.users.models import User
from tests.support import add_image_row, set_tags


def _owner(session: Session) -> uuid.UUID:
    owner = uuid.uuid4()
    session.add(User(id=owner, image_upload_count=0))
    session.flush()
    return owner


def test_reindex_replaces(container: Container) -> None:
    index = container.search_index
    with container.database.transaction() as session:
        owner = _owner(session)
        image_id = add_image_row(session, owner, "cat")
        set_tags(session, image_id, ["old"])
        index.index(session, [SearchEntry(image_id, "cat", ["old"])])
        AnalysisRepository(session).replace_labels(image_id, "test", "m@1", [Label("animal", 0.9)])
        set_tags(session, image_id, ["new"])
        entry = SearchEntry(image_id, "cat", ["new"], ["animal"], "HELLO WORLD\nbit image")
        index.index(session, [entry])
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 1
        for tag, found in (("old", []), ("new", [image_id])):
            page = index.search(session, SearchQuery(owner_id=owner, tag=tag))
            assert page.image_ids == found
        for query, found in (
            (SearchQuery(owner_id=owner, label="animal"), [image_id]),
            (SearchQuery(owner_id=owner, label="anmal"), [image_id]),
            (SearchQuery(owner_id=owner, label="animal", min_confidence=0.95), []),
            (SearchQuery(owner_id=owner, text="hello"), [image_id]),
            (SearchQuery(owner_id=owner, text="helo wrld"), [image_id]),
            (SearchQuery(owner_id=owner, text="goodbye"), []),
        ):
            assert index.search(session, query).image_ids == found, query
        index.remove(session, [image_id])
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 0


def test_one_batch_mixes_new_and_indexed_images(container: Container) -> None:
    index = container.search_index
    with container.database.transaction() as session:
        owner = _owner(session)
        cat, dog, owl = (add_image_row(session, owner, name) for name in ("cat", "dog", "owl"))
        for image_id, tags in ((cat, ["old"]), (dog, ["new"]), (owl, ["new"])):
            set_tags(session, image_id, tags)  # dog's "old" is replaced below
        index.index(session, [SearchEntry(cat, "cat", ["old"]), SearchEntry(dog, "dog", ["old"])])
        index.index(
            session,
            [SearchEntry(dog, "dog", ["new"]), SearchEntry(owl, "owl", ["new"])],
        )
        assert session.execute(text("SELECT count(*) FROM image_search")).scalar_one() == 3
        found = index.search(session, SearchQuery(owner_id=owner, tag="old")).image_ids
        assert found == [cat]
        found = index.search(session, SearchQuery(owner_id=owner, tag="new")).image_ids
        assert sorted(found) == sorted([dog, owl])


def test_a_short_public_text_term_finds_long_texts_exact_lines_first(container: Container) -> None:
    """`no` (no trigram): exact lines first, then newest, texts of any length (PostgreSQL
    reads texts over short_texts.LONG_TEXT bytes through an index of their own), paged."""
    index, long_text = container.search_index, "lorem ipsum dolor " * 150  # 2,700 bytes
    texts = {
        "exact old": "no\nparking",
        "contains old": "snow day",
        "exact long": long_text + "\nno",
        "private exact": "no",
        "other": "yes",
        "contains long": long_text + "\npiano",
        "contains new": "casino",
    }
    ids = {}
    with container.database.transaction() as session:
        owner = _owner(session)
        for n, (name, words) in enumerate(texts.items()):
            image_id = add_image_row(session, owner, name, is_private=name.startswith("private"))
            moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
            session.execute(update(Image).where(Image.id == image_id).values(created_at=moment))
            ids[name] = image_id
            index.index(session, [SearchEntry(image_id, name, [], [], words)])
    expected = [ids[n] for n in ("exact long", "exact old", "contains new", "contains long",
                                 "contains old")]  # fmt: skip
    with container.database.transaction(write=False) as session:
        whole = index.search(session, SearchQuery(owner_id=None, text="no"))
        assert whole.image_ids == expected
        paged, cursor = [], None
        for _ in range(len(expected) + 1):
            page = index.search(
                session, SearchQuery(owner_id=None, text="no", limit=2, cursor=cursor)
            )
            paged += page.image_ids
            cursor = page.next_cursor
            if cursor is None:
                break
        assert paged == expected
