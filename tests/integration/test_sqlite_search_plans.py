"""With planner statistics, SQLite still reads a page's postings by image (EXPLAIN QUERY PLAN).

One owner holds 90% of the images: sqlite_stat1 then rates the owner column of the scoped
postings index as barely selective, and SQLite preferred a skip-scan over it (ANY(user_id) AND
label_id AND confidence, reading every posting of the names) to the primary key's 100 images.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from bitimage.bootstrap import Container
from bitimage.search import postings, postings_both, postings_by_label
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.sqlite import SqliteSearchIndex
from tests.support import captured_sql

IMAGES, LABELS, PER_IMAGE, TAGS, TAGGED = 3_000, 100, 7, 1_000, 2
OWNER, OTHERS = f"{1:032x}", 5


# Ids as SQLite stores Uuid columns, 32 hex digits: label n is 1/n, image n is 2/n (below).
COUNTED = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
VOCABULARY = (
    "INSERT INTO content_labels (id, name) SELECT printf('%08x%024x', 1, i), 'l' || i FROM n"
)
# Image i: the owner's unless i % 10 == 9, then one of the others'.
LIBRARY = (
    "INSERT INTO images (id, user_id, name, hash, size_bytes, file_format, width, height, "
    "is_private, storage_key, analysis_status, created_at) SELECT printf('%08x%024x', 2, i), "
    "CASE WHEN i % 10 = 9 THEN printf('%032x', 2 + i % :others) ELSE :owner END, 'p', 'h', "
    "1, 'jpeg', 1, 1, 1, 'k', 'done', datetime(1700000000 + i, 'unixepoch') FROM n"
)
LABELLED = (
    "INSERT INTO image_content_labels (image_id, label_id, confidence, analyser, model, "
    "user_id, created_at, visible) SELECT images.id, "
    "printf('%08x%024x', 1, (images.rowid * 13 + n.i * 17) % :labels), "
    "((images.rowid * 7 + n.i * 31) % 100) / 100.0, 'classifier', '', images.user_id, "
    "images.created_at, 0 FROM images, n"
)

TAG_NAMES = "INSERT INTO tags (id, name) SELECT printf('%08x%024x', 3, i), 't' || i FROM n"
TAGGED_IMAGES = (
    "INSERT INTO image_tags (image_id, tag_id, user_id, created_at, visible) SELECT images.id, "
    "printf('%08x%024x', 3, (images.rowid * 7 + n.i * 13) % :tags), images.user_id, "
    "images.created_at, 0 FROM images, n"
)


def _populate(container: Container) -> None:
    users = [OWNER, *(f"{2 + n:032x}" for n in range(OTHERS))]
    with container.database.transaction() as session:
        for user in users:
            session.execute(
                text("INSERT INTO users (id, image_upload_count, created_at) VALUES (:u, 0, 0)"),
                {"u": user},
            )
        session.execute(text(COUNTED + VOCABULARY), {"last": LABELS - 1})
        session.execute(
            text(COUNTED + LIBRARY), {"last": IMAGES - 1, "others": OTHERS, "owner": OWNER}
        )
        session.execute(text(COUNTED + LABELLED), {"last": PER_IMAGE - 1, "labels": LABELS})
        session.execute(text(COUNTED + TAG_NAMES), {"last": TAGS - 1})
        session.execute(text(COUNTED + TAGGED_IMAGES), {"last": TAGGED - 1, "tags": TAGS})


def _plan(container: Container, statement: Any) -> tuple[list[str], list[Any]]:
    """SQLite's plan of `statement` as the session runs it (its values bound), and its rows."""
    found: list[Any] = []
    sql, params = captured_sql(container, lambda s: found.extend(s.execute(statement).all()))[-1]
    return _explained(container, sql, params), found


def _explained(container: Container, sql: str, params: Any) -> list[str]:
    """SQLite's plan of one statement with its values."""
    with container.database.transaction(write=False) as session:
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        return [row[3] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.fixture
def analysed(container: Container) -> Container:
    _populate(container)
    report = container.statistics.run()
    assert report is not None
    assert report.analysed
    return container


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_pages_postings_are_read_by_image_with_statistics(analysed: Container) -> None:
    statement = postings.of_images(postings.LABELS).params(
        images=[f"{2:08x}{n:024x}" for n in range(0, 1_000, 10)],
        ids=[f"{1:08x}{n:024x}" for n in range(5)],
        floor=0.3,
    )
    plan, found = _plan(analysed, statement)
    assert plan == [
        "SEARCH image_content_labels USING INDEX sqlite_autoindex_image_content_labels_1 "
        "(image_id=?)"
    ], plan
    assert found  # the statement itself reads the same postings
    assert all(confidence >= 0.3 for _, _, confidence in found)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_tag_and_label_class_is_read_from_the_tags_with_statistics(
    analysed: Container,
) -> None:
    tags = [f"{3:08x}{n:024x}" for n in range(11)]
    with analysed.database.transaction(write=False) as session:
        label = session.execute(
            text(
                "SELECT l.label_id FROM image_tags t JOIN image_content_labels l "
                "ON l.image_id = t.image_id WHERE t.tag_id IN (:a, :b) GROUP BY l.label_id "
                "ORDER BY count(*) DESC LIMIT 1"
            ),
            {"a": tags[0], "b": tags[1]},
        ).scalar_one()
    statement = postings_both.both(False, False, False, True).params(
        tags=tags,
        owner=OWNER,
        labels=[label],
        exact_label=label,
        exact_tag=f"{3:08x}{999:024x}",
        floor=0.0,
        limit=100,
    )
    plan, found = _plan(analysed, statement)
    # The loops of the statement itself (its EXISTS tests read the tags as t2).
    driven = [step for step in plan if step.startswith(("SEARCH image_", "SCAN image_"))]
    assert driven[:2] == [
        "SEARCH image_tags USING COVERING INDEX ix_tags_owner_posting (user_id=? AND tag_id=?)",
        "SEARCH image_content_labels USING INDEX sqlite_autoindex_image_content_labels_1 "
        "(image_id=?)",
    ]
    assert found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_labels_first_postings_are_read_in_the_index_order_with_statistics(
    analysed: Container,
) -> None:
    """Up to a cutoff, the label's scoped postings in the index's own order: the LIMIT stops
    the read after a page (a subquery with a LIMIT was sorted again, so all its rows read)."""
    label = f"{1:08x}{0:024x}"
    values = {"first": [label], "labels": [label], "owner": OWNER, "floor": 0.0}
    cutoff = postings_by_label.label_cutoff(False, False).params(**values, skip=50)
    with analysed.database.transaction(write=False) as session:
        cut = session.execute(cutoff).one()
    statement = postings_by_label.both_by_label(False, False, False, True, bounded=True).params(
        **values,
        tags=[f"{3:08x}{n:024x}" for n in range(TAGS)],
        exact_label=label,
        exact_tag=f"{3:08x}{999:024x}",
        kc=cut[0],
        kt=cut[1],
        ki=cut[2],
        limit=5,
    )
    plan, found = _plan(analysed, statement)
    assert plan[0].startswith(
        "SEARCH image_content_labels USING INDEX ix_content_labels_owner_posting "
        "(user_id=? AND label_id=? AND confidence>?)"
    ), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
    assert found


def _steps(container: Container, statement: Any) -> int:
    """SQLite's virtual machine steps (in hundreds) to run `statement` and read its rows."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    with container.database.transaction(write=False) as session:
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        raw.set_progress_handler(tick, 100)
        try:
            session.execute(statement).all()
        finally:
            raw.set_progress_handler(None, 0)
    return steps


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bounded_read_of_a_labels_postings_stops_at_its_cutoff(analysed: Container) -> None:
    """The cutoff, not the confidence floor, bounds the descending scan: with both, SQLite
    read the label's every posting down to the floor however near the cutoff was."""
    label = f"{1:08x}{0:024x}"
    values = {"first": [label], "labels": [label], "owner": OWNER, "floor": 0.0}

    def steps(skip: int) -> int:
        cutoff = postings_by_label.label_cutoff(False, False).params(**values, skip=skip)
        with analysed.database.transaction(write=False) as session:
            cut = session.execute(cutoff).one()
        statement = postings_by_label.both_by_label(
            False, False, True, True, bounded=True, alone=True, once=False
        ).params(
            **values,
            tags=[f"{4:08x}{0:024x}"],  # no image has it: every posting read is probed
            exact_tag=f"{4:08x}{0:024x}",
            exact_label=label,
            kc=cut[0],
            kt=cut[1],
            ki=cut[2],
            limit=100,
        )
        return _steps(analysed, statement)

    near, far = steps(15), steps(150)
    assert near * 4 < far, (near, far)


def _search_plans(container: Container, query: SearchQuery) -> list[list[str]]:
    """SQLite's plan of each statement a search runs that ranks rows (its values bound)."""
    seen = captured_sql(container, lambda session: container.search_index.search(session, query))
    return [_explained(container, sql, params) for sql, params in seen if " AS score" in sql]


def _entry(n: int) -> SearchEntry:
    """Image n's index entry: a name of words and a number, upper-case text on two in three."""
    words = ["harbour", "no entry", "piano", "lake"]
    text = words[(n + 1) % 4].upper() if n % 3 else ""
    return SearchEntry(uuid.UUID(hex=f"{2:08x}{n:024x}"), f"{words[n % 4]} {n}", [], [], text)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_terms_under_three_letters_read_fts5s_content_in_order(analysed: Container) -> None:
    """No trigram for FTS5 to look up: above the crossover and in public, FTS5's content is
    read in its order and each row's scope by its key (a scan through FTS5's table cost twice
    as much); a lone name of an owner, the owner's index of names."""
    index = analysed.search_index
    assert isinstance(index, SqliteSearchIndex)
    index.owner_scan = 0  # every owner above the crossover
    with analysed.database.transaction() as session:
        index.index(session, [_entry(n) for n in range(IMAGES)])
    owner = uuid.UUID(hex=OWNER)
    queries = [
        SearchQuery(owner, text="no"),
        SearchQuery(None, text="no"),
        SearchQuery(None, name="no"),
        SearchQuery(owner, name="no", text="ia"),
    ]
    for query in queries:
        plans = _search_plans(analysed, query)
        assert len(plans) == 1, plans
        assert plans[0][:2] == [
            "SCAN s",  # FTS5's content table, in its order
            "SEARCH image_search_rows USING INTEGER PRIMARY KEY (rowid=?)",
        ], plans
    names = "ix_image_search_rows_owner_names (user_id=?)"
    plans = _search_plans(analysed, SearchQuery(owner, name="no"))
    assert plans == [
        [f"SEARCH image_search_rows USING COVERING INDEX {names}", "USE TEMP B-TREE FOR ORDER BY"]
    ], plans
