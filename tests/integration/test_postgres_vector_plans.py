"""On PostgreSQL, kind=visual goes through pgvector's HNSW index, and a scope filter applied
during the walk still fills the answer (a small library among many, public images only)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from bitimage.bootstrap import Container
from bitimage.users.models import User

BIG, SMALL = 4_000, 30


def _insert(container: Container, owner: uuid.UUID, count: int, offset: int) -> None:
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))
        session.flush()
        session.execute(
            text(
                "INSERT INTO images (id, user_id, name, hash, size_bytes, file_format, width, "
                "height, is_private, storage_key, analysis_status, created_at) "
                "SELECT md5(g::text)::uuid, :owner, 'p' || g, md5(g::text), 1, 'jpeg', 1, 1, "
                "g % 20 <> 0, 'k', 'done', now() "
                "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"
            ),
            {"owner": owner, "a": offset, "b": offset + count - 1},
        )
        # Random directions: each row's own array (the g term keeps the subquery per row).
        session.execute(
            text(
                "INSERT INTO image_search_vectors (image_id, embedding) "
                "SELECT md5(g::text)::uuid, CAST(array(SELECT random() - 0.5 + g * 0 "
                "FROM generate_series(1, 1280)) AS vector(1280)) "
                "FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"
            ),
            {"a": offset, "b": offset + count - 1},
        )


@pytest.fixture
def libraries(container: Container) -> tuple[uuid.UUID, uuid.UUID]:
    if container.database.dialect != "postgresql":
        pytest.fail("this test needs the PostgreSQL database of the parametrized fixture")
    big, small = uuid.uuid4(), uuid.uuid4()
    _insert(container, big, BIG, 1)
    _insert(container, small, SMALL, BIG + 1)
    with container.database.engine.connect().execution_options(
        isolation_level="AUTOCOMMIT"
    ) as conn:
        conn.execute(text("VACUUM ANALYZE images"))
        conn.execute(text("VACUUM ANALYZE image_search_vectors"))
    return big, small


def _nearest(
    container: Container, image: int, owner: uuid.UUID | None, limit: int, walk: bool = False
) -> tuple[list[uuid.UUID], str]:
    """The index's answer for image number `image`, and the plan of its vector query."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Connection, _cur: Any, sql: str, params: Any, *_: Any) -> None:
        if "<=>" in sql:
            captured.append((sql, params))

    engine = container.database.engine
    with container.database.transaction(write=False) as session:
        image_id = session.execute(text(f"SELECT md5('{image}')::uuid")).scalar_one()
        if walk:  # no sort allowed: the planner must walk the HNSW index, filtering as it goes
            session.execute(text("SET LOCAL enable_sort = off"))
        event.listen(engine, "before_cursor_execute", capture)
        try:
            found = container.duplicates.vectors.nearest(session, image_id, owner, limit)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        ((sql, params),) = captured
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return [n.image_id for n in found], plan


def _owners(container: Container, ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, bool]]:
    with container.database.transaction(write=False) as session:
        rows = session.execute(
            text("SELECT user_id, is_private FROM images WHERE id = ANY(:ids)"), {"ids": ids}
        )
        return {(row.user_id, row.is_private) for row in rows}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_large_library_and_public_images_walk_the_hnsw_index(
    container: Container, libraries: tuple[uuid.UUID, uuid.UUID]
) -> None:
    big, _ = libraries
    found, plan = _nearest(container, 1, big, 20)
    assert "ix_image_search_vectors_hnsw" in plan, plan
    assert len(found) == 20
    assert _owners(container, found) <= {(big, True), (big, False)}
    # Public images only: 19 in 20 are private, and none of those may come back. The planner
    # reads so few rows exactly; made to walk the index, the walk goes on past ef_search
    # candidates (pgvector's iterative scan) until the answer is full.
    for walk in (False, True):
        found, plan = _nearest(container, 1, None, 20, walk)
        assert ("ix_image_search_vectors_hnsw" in plan) == walk, plan
        assert len(found) == 20
        assert all(not private for _, private in _owners(container, found))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_small_library_among_many_gets_a_full_answer(
    container: Container, libraries: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _, small = libraries
    found, _plan = _nearest(container, BIG + 1, small, 50)
    assert len(found) == SMALL - 1  # every other image of the library, itself excluded
    assert _owners(container, found) <= {(small, True), (small, False)}
