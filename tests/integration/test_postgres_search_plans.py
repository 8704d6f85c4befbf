"""On PostgreSQL every filtered search query goes through a pg_trgm GIN index (EXPLAIN)."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from bitimage.bootstrap import Container
from bitimage.search.ports import SearchQuery
from bitimage.users.models import User

ROWS = 30_000
_HASH = hashlib.md5(b"777", usedforsecurity=False).hexdigest()  # row 777's name, tag, label
WORDS = ["harbour", "sunset", "mountain", "kitten", "bicycle", "lantern", "meadow", "castle"]


@pytest.fixture
def big_index(container: Container) -> uuid.UUID:
    if container.database.dialect != "postgresql":
        pytest.fail("this test needs the PostgreSQL database of the parametrized fixture")
    owner = uuid.uuid4()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))
        session.flush()
        # Names like "kitten 3f2a9c": a few common words, each with a distinct suffix.
        session.execute(
            text(
                "INSERT INTO images (id, user_id, name, hash, size_bytes, file_format, width, "
                "height, is_private, storage_key, analysis_status, created_at) "
                "SELECT md5(g::text)::uuid, :owner, (CAST(:words AS text[]))[1 + g % 8] || ' ' || "
                "substr(md5(g::text), 1, 6), md5(g::text), 1, 'jpeg', 1, 1, g % 2 = 0, "
                "'k', 'done', now() - g * interval '1 second' FROM generate_series(1, :n) g"
            ),
            {"owner": owner, "n": ROWS, "words": WORDS},
        )
        session.execute(
            text(
                "INSERT INTO image_search (image_id, user_id, created_at, visible, name, tags, "
                "labels, text) SELECT id, user_id, created_at, NOT is_private, lower(name), "
                "E'\\n' || substr(hash, 3, 7) || E'\\n', "
                "E'\\n' || substr(hash, 10, 8) || E'\\n', "
                "E'\\n' || substr(hash, 18, 14) || E'\\n' FROM images"
            )
        )
        # Each image has its own tag (its hash's letters 2 to 9); every image has "common".
        session.execute(
            text(
                "INSERT INTO tags (id, name) SELECT md5('tag' || id::text)::uuid, "
                "substr(hash, 3, 7) FROM images UNION ALL "
                "SELECT md5('common')::uuid, 'common' ON CONFLICT (name) DO NOTHING"
            )
        )
        session.execute(
            text(
                "INSERT INTO image_tags (image_id, tag_id, user_id, created_at, visible) "
                "SELECT i.id, t.id, user_id, created_at, NOT is_private FROM images i "
                "JOIN tags t ON t.name = substr(i.hash, 3, 7) UNION ALL "
                "SELECT id, md5('common')::uuid, user_id, created_at, NOT is_private FROM images"
            )
        )
        # Each image has its own label (its hash's letters 9 to 17), with a confidence.
        session.execute(
            text(
                "INSERT INTO content_labels (id, name) "
                "SELECT md5('label' || id::text)::uuid, substr(hash, 10, 8) FROM images "
                "UNION ALL SELECT md5('common')::uuid, 'common'"
            )
        )
        session.execute(
            text(
                "INSERT INTO image_content_labels "
                "(image_id, label_id, confidence, analyser, model, user_id, created_at, visible) "
                "SELECT id, md5('label' || id::text)::uuid, 0.5, 'test', 'm', user_id, "
                "created_at, NOT is_private FROM images UNION ALL "
                "SELECT id, md5('common')::uuid, (g % 97) / 97.0, 'test', 'm', user_id, "
                "created_at, NOT is_private FROM (SELECT *, row_number() OVER () g FROM images) i"
            )
        )
    # VACUUM as autovacuum would: it also merges the GIN pending list the inserts filled.
    with container.database.engine.connect().execution_options(
        isolation_level="AUTOCOMMIT"
    ) as conn:
        conn.execute(text("VACUUM ANALYZE images"))
        conn.execute(text("VACUUM ANALYZE image_search"))
        conn.execute(text("VACUUM ANALYZE content_labels"))
        conn.execute(text("VACUUM ANALYZE tags"))
        conn.execute(text("VACUUM ANALYZE image_tags"))
        conn.execute(text("VACUUM ANALYZE image_content_labels"))
    return owner


def _captured(container: Container, query: SearchQuery) -> list[tuple[str, Any]]:
    """The SELECTs one search runs on the search rows, the vocabularies and the postings."""
    statements: list[tuple[str, Any]] = []
    tables = ("image_search", "tags", "content_labels", "image_tags", "image_content_labels")

    def capture(_c: Connection, _cur: Any, sql: str, params: Any, *_: Any) -> None:
        if any(name in sql for name in tables) and sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    engine = container.database.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with container.database.transaction(write=False) as session:
            container.search_index.search(session, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


QUERIES = [("text", _HASH[20:28])]
NAMES = [
    # (term, the index of the containing names' statement, a fuzzy statement expected)
    (_HASH[:6], "ix_image_search_{scope}_name_trgm", True),  # substring of one name
    ("x" + _HASH[1:6], "ix_image_search_{scope}_name_trgm", True),  # the same with a typo
    # An eighth of the names: read newest first from the index that includes them, a page.
    ("kitten", "ix_image_search_{scope}_recent", False),
]
POSTINGS = [
    ("tag", _HASH[2:9]),  # one image's own tag
    ("tag", _HASH[2:8] + "x"),  # a typo of it
    ("tag", "common"),  # every image's: the index's order stops the scan after a page
    ("label", _HASH[9:17]),
    ("label", "x" + _HASH[10:17]),
    ("label", "common"),
]


def _query(owner: uuid.UUID | None, field: str, term: str) -> SearchQuery:
    """`owner`'s images (None: the public ones) filtered on one text field."""
    return SearchQuery(
        owner_id=owner,
        name=term if field == "name" else None,
        tag=term if field == "tag" else None,
        label=term if field == "label" else None,
        text=term if field == "text" else None,
    )


def _plans(container: Container, query: SearchQuery) -> list[tuple[str, str]]:
    """Each captured statement of the query and its plan."""
    plans = []
    with container.database.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.3', false)")
        for sql, params in _captured(container, query):
            cursor.execute("EXPLAIN " + sql, params)
            plans.append((sql, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_filtered_queries_use_trigram_indexes(container: Container, big_index: uuid.UUID) -> None:
    """Names and text through the trigram index of the scope: the owner's, or the visible."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for field, term in QUERIES:
            plans = _plans(container, _query(owner, field, term))
            assert len(plans) == 2, "expected a strong and a fuzzy query"
            index = f"ix_image_search_{scope}_{field}_trgm"
            for _sql, plan in plans:
                if index not in plan:
                    wrong[f"{scope} {field}={term}"] = plan
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


def _uses(plan: str, index: str) -> bool:
    """Whether the plan reads this index (not merely one whose name starts the same)."""
    return re.search(rf"\b{index}\b(?!_)", plan) is not None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_name_reads_exact_names_then_containing_ones_in_scope(
    container: Container, big_index: uuid.UUID
) -> None:
    """Exact names by the scope's btree, then containing ones, then two bands of typo candidates."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for term, containing, fuzzy in NAMES:
            plans = _plans(container, _query(owner, "name", term))
            exact = [plan for sql, plan in plans if "s.name = " in sql]
            contains = [plan for sql, plan in plans if "s.name LIKE" in sql]
            # Typo candidates: the close ones by similarity, then the newest similar ones.
            close = [plan for sql, plan in plans if "<%" in sql and "word_similarity" in sql]
            newest = [plan for sql, plan in plans if "<%" in sql and "word_similarity" not in sql]
            counts = (len(exact), len(contains), len(close), len(newest))
            assert counts == (1, 1, int(fuzzy), int(fuzzy)), plans
            trigrams = f"ix_image_search_{scope}_name_trgm"
            expected = [(f"ix_image_search_{scope}_name", exact),
                        (containing.format(scope=scope), contains), (trigrams, close)]  # fmt: skip
            for index, found in expected:
                wrong.update({f"{scope} name={term} ({index})": plan for plan in found
                              if not _uses(plan, index)})  # fmt: skip
            # Few similar names: the trigram index; many: the scope's names newest first.
            either = (trigrams, f"ix_image_search_{scope}_recent")
            wrong.update({f"{scope} name={term} (newest)": plan for plan in newest
                          if not any(_uses(plan, index) for index in either)})  # fmt: skip
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_tags_and_labels_read_the_vocabulary_then_the_scoped_postings(
    container: Container, big_index: uuid.UUID
) -> None:
    """Names through the vocabulary's trigram index; postings through the scope's index."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for field, term in POSTINGS:
            vocabulary, postings = {"tag": ("tags", "tags"), "label": ("content_labels",
                                    "content_labels")}[field]  # fmt: skip
            plans = _plans(container, _query(owner, field, term))
            names = [plan for sql, plan in plans if "FROM image_" not in sql]
            # A name's postings in order (LIMIT); then, for the images found in the fuzzy
            # tier, their other postings: a few rows, by any index.
            reads = [plan for sql, plan in plans if "FROM image_" in sql and "LIMIT" in sql]
            checks = [plan for sql, plan in plans if "FROM image_" in sql and "LIMIT" not in sql]
            assert names, "the vocabulary is read first"
            assert reads, f"{field}={term}: no posting was read"
            expected = [(f"ix_{vocabulary}_name_trgm", names),
                        (f"ix_{postings}_{scope}_posting", reads)]  # fmt: skip
            wrong.update({f"{scope} {field}={term} (check)": plan for plan in checks
                          if "Seq Scan" in plan})  # fmt: skip
            for index, found in expected:
                for plan in found:
                    if index not in plan:
                        wrong[f"{scope} {field}={term} ({index})"] = plan
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


COMBINED = [
    ("common", "ix_content_labels_{scope}_posting"),  # every image's: the labels lead
    (_HASH[2:9], "ix_tags_{scope}_posting"),  # one image's: its postings, joined
]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_tag_and_a_label_read_the_fewer_postings_in_order(
    container: Container, big_index: uuid.UUID
) -> None:
    """The strong tier of a tag and a label reads the tag's postings or the label's, in scope."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        for tag, index in COMBINED:
            query = SearchQuery(owner_id=owner, tag=tag, label="common")
            strong = [plan for sql, plan in _plans(container, query) if " AS score" in sql]
            assert strong, f"{scope} tag={tag}: no strong statement"
            wrong.update({f"{scope} tag={tag}": plan for plan in strong
                          if index.format(scope=scope) not in plan})  # fmt: skip
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_common_tag_and_several_labels_join_both_scoped_postings(
    container: Container, big_index: uuid.UUID
) -> None:
    """Several labels' postings have no common order: the tags lead, joined to the labels' postings
    through their scoped index (a hash join when both are many; here the planner may start from
    the few labels' postings), never through every posting of the labels."""
    wrong = {}
    for owner, scope in ((big_index, "owner"), (None, "public")):
        # Every image has "common"; about forty labels contain these three letters.
        query = SearchQuery(owner_id=owner, tag="common", label=_HASH[9:12])
        strong = [plan for sql, plan in _plans(container, query) if " AS score" in sql]
        assert strong, f"{scope}: no strong statement"
        index = f"ix_content_labels_{scope}_posting"
        unscoped = ("Seq Scan", "ix_image_content_labels_label_id")
        for plan in strong:
            if index not in plan or any(name in plan for name in unscoped):
                wrong[scope] = plan
    assert not wrong, "\n\n".join(f"{query}:\n{plan}" for query, plan in wrong.items())
