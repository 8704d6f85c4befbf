"""The IVF vector index (search/vectors_ivf.py, vectors_upkeep.py) on SQLite and PostgreSQL.

Untrained answers equal an exact scan, trained ones reach recall@10 0.95, in both scopes; rows
filed under an older generation are still found and refiled; the upkeep racing analysis saves
and another upkeep loses no row and leaves every row filed in its nearest list;
`bitimage index-vectors`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from bitimage.bootstrap import Container
from bitimage.images.models import Image as ImageRow
from bitimage.search.vectors import DIMENSIONS
from bitimage.search.vectors_codes import Centroids, decode, fetch
from bitimage.search.vectors_ivf import IvfVectorIndex
from bitimage.search.vectors_upkeep import VectorUpkeep, lists_for, spherical_kmeans
from tests.integration.vector_support import (
    CLUSTERS,
    PER_CLUSTER,
    clustered,
    exact,
    store,
    two_owners,
)
from tests.support import app_client, auth, make_container, make_settings, user_id


def generations(container: Container) -> set[int]:
    with container.database.transaction(write=False) as session:
        rows = session.execute(text("SELECT DISTINCT generation FROM image_vector_lists"))
        return {int(row[0]) for row in rows}


@pytest.fixture
def owners(client: TestClient) -> tuple[uuid.UUID, uuid.UUID]:
    return two_owners(client, "ivf")


def test_indexed_answers_match_an_exact_scan_in_both_scopes(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, theirs = owners
    points = clustered(CLUSTERS * PER_CLUSTER, seed=1)
    ids = store(container, mine, points)
    # The other user's vectors sit right beside mine (the same directions): private, never
    # mine to see; public, seen by the public scope only.
    their_private = store(container, theirs, points[:40])
    their_public = store(container, theirs, points[40:80], public=True)
    index = container.vector_upkeep.index
    assert generations(container) == {0}  # untrained: every query scans its scope
    chosen = range(0, len(ids), 37)
    with container.database.transaction(write=False) as session:
        untrained = [index.nearest(session, ids[n], mine, 10) for n in chosen]
    # Untrained, every query scans its scope: exact.
    for n, found in zip(chosen, untrained, strict=True):
        assert [f.image_id for f in found] == [ids[i] for i in exact(points, n, 10)]

    report = VectorUpkeep(container.database, index, 64).run()
    total = len(points) + 80
    assert report.trained
    assert report.generation == 1
    assert report.lists == lists_for(total)
    assert report.reassigned == total
    assert generations(container) == {1}
    hits = 0
    with container.database.transaction(write=False) as session:
        for n in chosen:
            found = index.nearest(session, ids[n], mine, 10)
            # Trained, it probes some lists only: approximate by design. k-means starts from
            # random points, so a cluster may now and then span more lists than a query probes
            # (about one query in 160 missed one neighbour here): recall, as the issue asks.
            hits += len({f.image_id for f in found} & {ids[i] for i in exact(points, n, 10)})
            scores = [f.similarity for f in found]
            assert scores == sorted(scores, reverse=True)
            for f in found:  # the exact cosine, whatever the candidates
                assert abs(f.similarity - float(points[n] @ points[ids.index(f.image_id)])) < 1e-5
        assert not {f.image_id for f in index.nearest(session, ids[0], mine, 50)} & set(
            their_private + their_public
        )
        # Public scope: public images only, whoever owns them.
        public = {f.image_id for f in index.nearest(session, their_public[0], None, 50)}
        assert public
        assert public <= set(their_public)
    assert hits / (10 * len(chosen)) >= 0.95
    # Flagged leaves the public scope at once (scope is read from images, not copied).
    with container.database.transaction() as session:
        session.execute(
            update(ImageRow).where(ImageRow.id == their_public[1]).values(moderation="flagged")
        )
    with container.database.transaction(write=False) as session:
        public = {f.image_id for f in index.nearest(session, their_public[0], None, 50)}
        assert their_public[1] not in public
    # A deleted image's row leaves with it.
    with container.database.transaction() as session:
        session.execute(text("DELETE FROM images WHERE user_id = :o").bindparams(o=theirs))
    with container.database.transaction(write=False) as session:
        left = session.execute(text("SELECT count(*) FROM image_vector_lists")).scalar_one()
    assert left == len(points)


def test_rows_of_an_older_generation_are_scanned_then_refiled(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, _ = owners
    points = clustered(CLUSTERS * PER_CLUSTER, seed=2)
    ids = store(container, mine, points)
    upkeep = VectorUpkeep(
        container.database, container.vector_upkeep.index, 64, np.random.default_rng(2)
    )
    upkeep.run()
    # As if saved while a retraining went on: filed under generation 0, in a list far away.
    stale = ids[:PER_CLUSTER]
    with container.database.transaction() as session:
        lists = int(session.execute(text("SELECT lists FROM image_vector_index")).scalar_one())
        for image_id in stale:
            session.execute(
                text("UPDATE image_vector_lists SET generation = 0, list_no = :far"
                     " WHERE image_id = :id").bindparams(far=lists - 1, id=image_id.hex
                     if container.database.dialect == "sqlite" else image_id)
            )  # fmt: skip
    index = container.vector_upkeep.index
    with container.database.transaction(write=False) as session:
        found = index.nearest(session, ids[PER_CLUSTER - 1], mine, PER_CLUSTER - 1)
    assert {f.image_id for f in found} == set(stale[:-1])
    assert upkeep.run().reassigned == PER_CLUSTER
    assert generations(container) == {1}
    with container.database.transaction(write=False) as session:
        assert index.nearest(session, ids[PER_CLUSTER - 1], mine, PER_CLUSTER - 1) == found


def test_a_retraining_probes_rows_not_yet_refiled_by_their_own_centroids(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, _ = owners
    points = clustered(CLUSTERS * PER_CLUSTER, seed=6)
    ids = store(container, mine, points)
    index = container.vector_upkeep.index
    upkeep = VectorUpkeep(container.database, index, 64, np.random.default_rng(6))
    upkeep.run()
    # A second generation, its rows not refiled yet: every row is still generation 1's.
    centres = spherical_kmeans(points, lists_for(len(points)), np.random.default_rng(7))
    with container.database.transaction() as session:
        assert index.install(session, centres, expected=1) == 2
        assert index.install(session, centres, expected=1) is None  # another pass got there
    assert generations(container) == {1}
    with container.database.transaction(write=False) as session:
        for n in range(0, len(ids), 41):
            found = index.nearest(session, ids[n], mine, 10)
            assert [f.image_id for f in found] == [ids[i] for i in exact(points, n, 10)]
    assert upkeep.run().reassigned == len(ids)
    assert generations(container) == {2}
    with container.database.transaction(write=False) as session:
        kept = session.execute(text("SELECT DISTINCT generation FROM image_vector_centroids"))
        assert sorted(row[0] for row in kept) == [1, 2]  # the one before stays until the next


class AlwaysDue(VectorUpkeep):
    """Retrains on every pass, so that passes race saves and each other at every step."""

    def due(self, vectors: int, lists: int) -> bool:
        return vectors >= self.train_from


def test_upkeep_racing_saves_and_another_upkeep_loses_nothing(
    container: Container, owners: tuple[uuid.UUID, uuid.UUID]
) -> None:
    mine, _ = owners
    points = clustered(CLUSTERS * PER_CLUSTER, seed=3)
    ids = store(container, mine, points)
    index = container.vector_upkeep.index
    rng = np.random.default_rng(3)
    rounds, failures = 6, []
    start = threading.Barrier(4, timeout=60)

    def reported(step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException as exc:  # reported below
            failures.append(exc)

    def save(part: list[uuid.UUID]) -> None:
        # Each save is a reanalysis: a new vector near the old one, in a transaction of its own.
        for image_id in part:
            with container.database.transaction() as session:
                moved = points[ids.index(image_id)] + rng.normal(scale=0.01, size=DIMENSIONS)
                index.put(session, image_id, moved.astype(np.float32))

    def keep_up() -> None:
        AlwaysDue(container.database, IvfVectorIndex(), 64).run()

    def worker(step: Callable[[], None]) -> None:
        start.wait()
        for _ in range(rounds):
            reported(step)

    threads = [
        threading.Thread(target=worker, args=(lambda: save(ids[:60]),)),
        threading.Thread(target=worker, args=(lambda: save(ids[60:120]),)),
        threading.Thread(target=worker, args=(keep_up,)),
        threading.Thread(target=worker, args=(keep_up,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    VectorUpkeep(container.database, index, 64).run()  # files what the race left
    with container.database.transaction(write=False) as session:
        generation = index.generation(session)
        centroids = index.centroids(session)
        rows = session.execute(
            text("SELECT image_id, generation, list_no, scale, code FROM image_vector_lists")
        ).all()
        embeddings = session.execute(text("SELECT count(*) FROM image_search_vectors"))
        assert embeddings.scalar_one() == len(ids)
    assert centroids is not None
    assert centroids.generation == generation >= 2
    assert len(rows) == len(ids)
    assert {row[1] for row in rows} == {generation}
    vectors = decode([row[4] for row in rows], [row[3] for row in rows])
    scores = vectors @ centroids.matrix.T
    filed = scores[np.arange(len(rows)), [row[2] for row in rows]]
    # Filed in its nearest list (or one as near, within the 8-bit code's rounding).
    assert np.all(filed >= scores.max(axis=1) - 1e-3)


def test_a_failing_probe_is_sqlalchemys_database_error(container: Container) -> None:
    # PostgreSQL's probe reads through the driver's binary cursor: its errors must still be
    # DBAPIError, which the app answers with 503 when the database is down.
    with container.database.transaction(write=False) as session, pytest.raises(DBAPIError):
        fetch(
            session,
            "SELECT no_such_column FROM image_vector_lists WHERE list_no IN :l",
            {"l": [1]},
            ("l",),
        )


def test_spherical_kmeans_finds_separated_clusters() -> None:
    points = clustered(CLUSTERS * PER_CLUSTER, seed=4)
    centres = spherical_kmeans(points, CLUSTERS, np.random.default_rng(4))
    assert centres.shape == (CLUSTERS, DIMENSIONS)
    assert np.allclose(np.linalg.norm(centres, axis=1), 1.0, atol=1e-5)
    labels = Centroids(1, centres).nearest(points)[:, 0]
    # Most clusters end whole in one list (a random start may merge two and split one).
    whole = sum(
        len(set(labels[c * PER_CLUSTER : (c + 1) * PER_CLUSTER])) == 1 for c in range(CLUSTERS)
    )
    assert whole >= CLUSTERS - 4


def test_index_vectors_command_trains_a_library(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "cli", vector_index_train_from=64)
    built = make_container(settings)
    try:
        with app_client(built) as client:
            owner = uuid.UUID(user_id(client, auth(client, "ivf-cli@example.com")))
        store(built, owner, clustered(CLUSTERS * PER_CLUSTER, seed=5))
    finally:
        built.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITIMAGE_")}
    env.update(BITIMAGE_DATA_DIR=str(settings.data_dir), BITIMAGE_VECTOR_INDEX_TRAIN_FROM="64")

    def index_vectors() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bitimage.cli", "index-vectors"],
            env=env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode().strip()

    lists = lists_for(CLUSTERS * PER_CLUSTER)
    assert index_vectors() == (
        f"vectors: 480, lists: {lists} (trained now), generation: 1, reassigned: 480"
    )
    assert index_vectors() == (
        f"vectors: 480, lists: {lists} (no training due), generation: 1, reassigned: 0"
    )
