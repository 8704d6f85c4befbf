"""pgvector's HNSW index (search/vectors_hnsw.py, migration 0013), on PostgreSQL only.

`make services` builds pgvector for the test server, so the HNSW table must exist here: a
server without it fails the first test instead of skipping. Both ways of answering an owner
(an exact scan of a small library, the graph for a large one) and the public scope are
compared with an exact scan; scope, moderation, replacement and deletion hold in each.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from bitimage.bootstrap import Container
from bitimage.images.models import Image as ImageRow
from bitimage.search.vectors_hnsw import HNSW_TABLE, HnswVectorIndex
from bitimage.search.vectors_ivf import IvfVectorIndex
from tests.databases import empty_tables
from tests.integration.vector_support import (
    CLUSTERS,
    PER_CLUSTER,
    clustered,
    exact,
    store,
    two_owners,
)
from tests.support import add_image_row


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL alone: SQLite has no pgvector (the IVF serves it)."""
    empty_tables(postgres_url)
    return postgres_url


@pytest.fixture
def owners(client: TestClient) -> tuple[uuid.UUID, uuid.UUID]:
    return two_owners(client, "hnsw")


def rows(container: Container, table: str) -> int:
    with container.database.transaction(write=False) as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def test_the_test_server_has_pgvector_and_the_container_uses_it(container: Container) -> None:
    vectors = container.duplicates.vectors
    assert isinstance(vectors, HnswVectorIndex)
    with container.database.transaction(write=False) as session:
        assert vectors.present(session)


# The planner picks the graph or a sort of the scope's rows by their number; at a test's size it
# sorts. Each way is forced here: no index scan (so no graph), or no sort (so the graph).
WAYS = {"sorted": "SET LOCAL enable_indexscan = off", "graph": "SET LOCAL enable_sort = off"}


@pytest.mark.parametrize("way", list(WAYS))
def test_answers_match_an_exact_scan_in_both_scopes(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID], way: str
) -> None:
    mine, theirs = owners
    index = HnswVectorIndex(IvfVectorIndex())
    points = clustered(CLUSTERS * PER_CLUSTER, seed=11)
    ids = store(container, mine, points, index=index)
    # The other user's vectors are copies of mine: never mine to see while private.
    their_private = store(container, theirs, points[:40], index=index)
    their_public = store(container, theirs, points[40:80], public=True, index=index)
    assert rows(container, HNSW_TABLE) == rows(container, "image_vector_lists") == len(ids) + 80
    hits, chosen = 0, range(0, len(ids), 23)
    with container.database.transaction(write=False) as session:
        session.execute(text(WAYS[way]))
        for n in chosen:
            found = index.nearest(session, ids[n], mine, 10)
            wanted = [ids[i] for i in exact(points, n, 10)]
            if way == "sorted":  # every row in scope scored: exact, in order
                assert [f.image_id for f in found] == wanted
            hits += len({f.image_id for f in found} & set(wanted))
            for f in found:  # the exact cosine from the float32 embedding, best first
                assert abs(f.similarity - float(points[n] @ points[ids.index(f.image_id)])) < 1e-5
            scores = [f.similarity for f in found]
            assert scores == sorted(scores, reverse=True)
        mine_found = {f.image_id for f in index.nearest(session, ids[0], mine, 100)}
        assert len(mine_found) == 100
        assert not mine_found & set(their_private + their_public)
        public = index.nearest(session, their_public[0], None, 50)
        assert {f.image_id for f in public} == set(their_public[1:])
    assert hits / (10 * len(chosen)) >= 0.95


def test_flagged_replaced_and_deleted_images(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, _ = owners
    index = HnswVectorIndex(IvfVectorIndex())
    points = clustered(CLUSTERS * PER_CLUSTER, seed=12)
    ids = store(container, mine, points, public=True, index=index)
    with container.database.transaction() as session:
        session.execute(update(ImageRow).where(ImageRow.id == ids[1]).values(moderation="flagged"))
        session.execute(update(ImageRow).where(ImageRow.id == ids[2]).values(is_private=True))
    with container.database.transaction(write=False) as session:
        session.execute(text(WAYS["graph"]))
        public = {f.image_id for f in index.nearest(session, ids[0], None, PER_CLUSTER - 3)}
    # Scope is read from `images` as the graph is walked: at once, nothing to refresh. The
    # cluster's other members fill the answer, the flagged and the private one left out.
    assert public == set(ids[3:PER_CLUSTER])
    # A reanalysis replaces the vector: image 0 now points where the last cluster is.
    with container.database.transaction() as session:
        index.put(session, ids[0], points[-1])
    with container.database.transaction(write=False) as session:
        (nearest,) = index.nearest(session, ids[-1], mine, 1)
    assert nearest.image_id == ids[0]
    assert abs(nearest.similarity - 1.0) < 1e-5
    assert rows(container, HNSW_TABLE) == len(ids)
    # Gone with its image (foreign key), and an image deleted first gets no row.
    with container.database.transaction() as session:
        session.execute(text("DELETE FROM images WHERE id = :id").bindparams(id=ids[5]))
        gone = add_image_row(session, mine, "gone")
        session.execute(text("DELETE FROM images WHERE id = :id").bindparams(id=gone))
        index.put(session, gone, points[0])
    assert rows(container, HNSW_TABLE) == len(ids) - 1


def test_an_image_without_a_vector_has_no_neighbours(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, _ = owners
    index = HnswVectorIndex(IvfVectorIndex())
    store(container, mine, clustered(CLUSTERS * PER_CLUSTER, seed=13)[:40], index=index)
    with container.database.transaction() as session:
        lonely = add_image_row(session, mine, "not analysed")
    with container.database.transaction(write=False) as session:
        assert index.nearest(session, lonely, mine, 10) == []
        assert index.nearest(session, lonely, None, 10) == []


def test_both_scopes_can_walk_the_graph(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, _ = owners
    index = HnswVectorIndex(IvfVectorIndex())
    ids = store(
        container, mine, clustered(CLUSTERS * PER_CLUSTER, seed=14), public=True, index=index
    )
    params = {"self": ids[0], "keep": 64, "owner": mine}
    for owner in (None, mine):
        # Ordered by the graph's own operator and operand, or it could never be used (with a
        # sort priced out, the planner must take it; bench_similar shows its own choice at
        # 100,000 rows: the graph for a large library and the public scope).
        with container.database.transaction(write=False) as session:
            session.execute(text(WAYS["graph"]))
            sql = "EXPLAIN " + index.statement(owner)
            plan = "\n".join(row[0] for row in session.execute(text(sql), params))
        assert "ix_image_vectors_hnsw_embedding" in plan
