"""PostgreSQL reads a name piece's several rare words as one stream (search/name_words.py).

Pooled (their postings counted below POOL_BELOW) or one stream a word, the pages are the
same: exact first, then the names containing the term newest first, an image holding two
of the words once, and cursor pages that join up.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import text

from bitimage.bootstrap import Container
from bitimage.search import name_words
from bitimage.search.ports import SearchEntry, SearchQuery
from tests.support import add_image_row, add_user, captured_sql

TERM = "hound beach"  # `hound` ends five words here, `beach` starts two
CONTAINING = [
    "foxhound beach bloodhound beach",  # two of the words, and the term twice
    "bloodhound beach",
    "greyhound beachy",
    "foxhound beach",
]
OTHERS = ["otterhound sunset", "cat beach", "hound", *(f"beach {n}" for n in range(12))]


def _library(container: Container) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The owner, and the images the term's strong tier lists, best first."""
    with container.database.transaction() as session:
        owner = add_user(session)
        ids = {}
        for age, name in enumerate([TERM, *CONTAINING, *OTHERS]):
            ids[name] = add_image_row(session, owner, name)
            # Newest first in this order: the image holding two of the words leads its tier.
            session.execute(
                text("UPDATE images SET created_at = now() - :age * interval '1 minute' "
                     "WHERE id = :id"),
                {"age": age, "id": ids[name]},
            )  # fmt: skip
        entries = [SearchEntry(image_id, name, []) for name, image_id in ids.items()]
        container.search_index.index(session, entries)
        rows = session.execute(
            text("SELECT id, created_at FROM images WHERE id = ANY(:ids)"),
            {"ids": [ids[name] for name in CONTAINING]},
        ).all()
    newest = sorted(rows, key=lambda row: (row[1], row[0].hex), reverse=True)
    return owner, [ids[TERM], *(row[0] for row in newest)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("pooled", [True, False])
def test_a_pieces_words_pooled_or_streamed_give_the_same_pages(
    container: Container, pooled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not pooled:
        monkeypatch.setattr(name_words, "POOL_BELOW", 0)
    owner, expected = _library(container)
    query = SearchQuery(owner_id=owner, name=TERM, limit=len(expected))
    seen = captured_sql(container, lambda session: container.search_index.search(session, query))
    reads = [sql for sql, _ in seen if "SELECT DISTINCT image_id, created_at" in sql]
    assert reads
    assert any("ANY(%(w0)s)" in sql for sql in reads) == pooled
    with container.database.transaction(write=False) as session:
        whole = container.search_index.search(session, query)
        paged, cursor = [], None
        for _ in expected:  # pages of two, each after the last one's cursor
            step = dataclasses.replace(query, limit=2, cursor=cursor)
            page = container.search_index.search(session, step)
            paged += page.image_ids
            cursor = page.next_cursor
        # A read of two: the image with two of the words counts once against its LIMIT.
        scope = {"owner": owner, "like": f"%{TERM}%", "q": TERM, "limit": 2}
        two = name_words.NameWords().containing(session, TERM, scope, after=False)
    assert whole.image_ids == expected
    assert paged[: len(expected)] == expected
    assert two is not None
    assert [image_id for image_id, _ in two] == expected[1:3]
