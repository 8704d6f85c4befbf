"""With planner statistics, SQLite still reads a page's postings by image (EXPLAIN QUERY PLAN).

One owner holds 90% of the images: sqlite_stat1 then rates the owner column of the scoped
postings index as barely selective, and SQLite preferred a skip-scan over it (ANY(user_id) AND
label_id AND confidence, reading every posting of the names) to the primary key's 100 images.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, text

from bitimage.bootstrap import Container
from bitimage.search import postings

IMAGES, LABELS, PER_IMAGE = 3_000, 100, 7
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_pages_postings_are_read_by_image_with_statistics(container: Container) -> None:
    _populate(container)
    report = container.statistics.run()
    assert report is not None
    assert report.analysed
    statement = postings.of_images(postings.LABELS).params(
        images=[f"{2:08x}{n:024x}" for n in range(0, 1_000, 10)],
        ids=[f"{1:08x}{n:024x}" for n in range(5)],
        floor=0.3,
    )
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        seen.append((sql, params))

    engine = container.database.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with container.database.transaction(write=False) as session:
            found = session.execute(statement).all()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    sql, params = next((sql, params) for sql, params in seen if "image_content_labels" in sql)
    with container.database.transaction(write=False) as session:
        cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        plan = [row[3] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert plan == [
        "SEARCH image_content_labels USING INDEX sqlite_autoindex_image_content_labels_1 "
        "(image_id=?)"
    ]
    assert found  # the statement itself reads the same postings
    assert all(confidence >= 0.3 for _, _, confidence in found)
