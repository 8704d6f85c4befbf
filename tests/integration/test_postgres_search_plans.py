"""On PostgreSQL every filtered search query goes through a pg_trgm GIN index (EXPLAIN)."""

from __future__ import annotations

import hashlib
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
        # Each image has its own label (its hash's letters 9 to 17), with a confidence.
        session.execute(
            text(
                "INSERT INTO content_labels (id, name) "
                "SELECT md5('label' || id::text)::uuid, substr(hash, 10, 8) FROM images"
            )
        )
        session.execute(
            text(
                "INSERT INTO image_content_labels "
                "(image_id, label_id, confidence, analyser, model, user_id, created_at, visible) "
                "SELECT id, md5('label' || id::text)::uuid, 0.5, 'test', 'm', user_id, "
                "created_at, NOT is_private FROM images"
            )
        )
    # VACUUM as autovacuum would: it also merges the GIN pending list the inserts filled.
    with container.database.engine.connect().execution_options(
        isolation_level="AUTOCOMMIT"
    ) as conn:
        conn.execute(text("VACUUM ANALYZE images"))
        conn.execute(text("VACUUM ANALYZE image_search"))
        conn.execute(text("VACUUM ANALYZE content_labels"))
        conn.execute(text("VACUUM ANALYZE image_content_labels"))
    return owner


def _captured(container: Container, query: SearchQuery) -> list[tuple[str, Any]]:
    statements: list[tuple[str, Any]] = []

    def capture(_c: Connection, _cur: Any, sql: str, params: Any, *_: Any) -> None:
        if "image_search" in sql and sql.lstrip().upper().startswith("SELECT"):
            statements.append((sql, params))

    engine = container.database.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with container.database.transaction(write=False) as session:
            container.search_index.search(session, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


QUERIES = [
    ("name", _HASH[:6]),  # substring of one name
    ("name", "x" + _HASH[1:6]),  # the same with a typo
    ("tag", _HASH[2:9]),
    ("tag", _HASH[2:8] + "x"),
    ("label", _HASH[9:17]),
    ("label", "x" + _HASH[10:17]),
    ("text", _HASH[20:28]),
]


def _query(owner: uuid.UUID, field: str, term: str) -> SearchQuery:
    """`owner`'s images filtered on one text field."""
    return SearchQuery(
        owner_id=owner,
        name=term if field == "name" else None,
        tag=term if field == "tag" else None,
        label=term if field == "label" else None,
        text=term if field == "text" else None,
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_filtered_queries_use_trigram_indexes(container: Container, big_index: uuid.UUID) -> None:
    plans = {}
    with container.database.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.3', false)")
        for field, term in QUERIES:
            statements = _captured(container, _query(big_index, field, term))
            assert len(statements) == 2, "expected a strong and a fuzzy query"
            # Strong label matches read content_labels' names, fuzzy ones the search rows.
            index = {
                "name": ["ix_image_search_name_trgm"],
                "tag": ["ix_image_search_tags_trgm"],
                "label": ["ix_content_labels_name_trgm", "ix_image_search_labels_trgm"],
                "text": ["ix_image_search_text_trgm"],
            }[field]
            for sql, params in statements:
                cursor.execute("EXPLAIN " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                if not any(name in plan for name in index):
                    plans[f"{field}={term}"] = plan
    assert not plans, "\n\n".join(f"{query}:\n{plan}" for query, plan in plans.items())
