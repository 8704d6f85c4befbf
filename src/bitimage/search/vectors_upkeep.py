"""The vector index's upkeep: trains its centroids as the library grows, files stale rows.

A periodic entrypoint (the worker runs it beside the sweeper; `bitimage admin index-vectors`
runs it once): each step is a unit of work of its own, opened here, so that training (seconds
of numpy) holds no transaction and a database never waits on it.
- Below `train_from` vectors (BITIMAGE_VECTOR_INDEX_TRAIN_FROM) nothing is trained: every
  query scans its scope's codes.
- The first training, and each time the vectors have grown fourfold since the last one,
  spherical k-means on a sample gives 4 sqrt(vectors) centroids (a new generation).
- Rows of older generations are then reassigned in batches; until then queries scan them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import text

from bitimage.db.session import Database
from bitimage.search.vectors_codes import Centroids
from bitimage.search.vectors_ivf import IvfVectorIndex

log = logging.getLogger("bitimage.vectors")

MIN_LISTS, MAX_LISTS = 16, 8_192
SAMPLE_PER_LIST = 20  # points per centroid that k-means learns from
ITERATIONS = 8
BATCH = 2_000


def lists_for(vectors: int) -> int:
    """How many lists suit `vectors` vectors: 4 sqrt(vectors), within MIN_LISTS..MAX_LISTS.

    Short lists keep a probe's rows few (bench_similar: 316 lists at 100,000 vectors read
    3,000 rows a query; 1,265 read 1,600 for the same recall).
    """
    return int(min(MAX_LISTS, max(MIN_LISTS, round(4 * math.sqrt(vectors)))))


def spherical_kmeans(
    points: np.ndarray[Any, Any], count: int, rng: np.random.Generator
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """`count` unit centroids of unit `points` (cosine k-means, ITERATIONS rounds)."""
    centres = points[rng.choice(len(points), count, replace=False)].astype(np.float32)
    for _ in range(ITERATIONS):
        assigned = Centroids(0, centres).nearest(points)[:, 0]
        order = np.argsort(assigned, kind="stable")
        present, starts = np.unique(assigned[order], return_index=True)
        sums = np.zeros_like(centres)
        sums[present] = np.add.reduceat(points[order], starts, axis=0)
        empty = np.setdiff1d(np.arange(count), present)
        # An empty list restarts from a random point rather than staying unreachable.
        sums[empty] = points[rng.choice(len(points), len(empty), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = (sums / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return centres


@dataclass(frozen=True)
class UpkeepReport:
    """What one pass did."""

    vectors: int
    generation: int
    lists: int
    trained: bool
    reassigned: int


class VectorUpkeep:
    """Keeps the IVF index's centroids fit for the number of vectors, and every row filed."""

    def __init__(
        self,
        database: Database,
        index: IvfVectorIndex,
        train_from: int,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.database = database
        self.index = index
        self.train_from = train_from
        # Seeded by tests whose point is not recall: a random start now and then splits a
        # cluster over more lists than a query probes.
        self.rng = rng

    def due(self, vectors: int, lists: int) -> bool:
        """Whether to train: enough vectors, and none trained yet or fourfold growth since."""
        return vectors >= self.train_from and (lists == 0 or lists_for(vectors) >= 2 * lists)

    def run(self) -> UpkeepReport:
        """One pass: train if due, then reassign every row of an older generation."""
        with self.database.transaction(write=False) as session:
            vectors, generation, lists = self.index.status(session)
        trained = False
        if self.due(vectors, lists):
            wanted = min(lists_for(vectors), vectors)
            with self.database.transaction(write=False) as session:
                sample = self.index.sample(session, wanted * SAMPLE_PER_LIST)
            norms = np.linalg.norm(sample, axis=1, keepdims=True)
            points = (sample / np.where(norms > 0, norms, 1.0)).astype(np.float32)
            rng = self.rng or np.random.default_rng()
            centres = spherical_kmeans(points, min(wanted, len(points)), rng)
            with self.database.transaction() as session:
                installed = self.index.install(session, centres, expected=generation)
            if installed is not None:
                trained, generation, lists = True, installed, len(centres)
                log.info("vector index trained: %d lists over %d vectors", lists, vectors)
        reassigned = 0
        # Bounded: rows a reanalysis keeps replacing are left to the next pass.
        for _ in range(vectors // BATCH + 2):
            with self.database.transaction() as session:
                seen = self.index.reassign(session, BATCH)
            reassigned += seen
            if seen < BATCH:
                break
        # Only after a large rewrite (a training's refiling), not for the few rows saved
        # while one ran.
        if reassigned >= max(BATCH, vectors // 10) and self.database.dialect == "postgresql":
            self._vacuum()
        return UpkeepReport(vectors, generation, lists, trained, reassigned)

    def _vacuum(self) -> None:
        # Refiling rewrites rows; until a VACUUM their old versions stay in the index and the
        # stale branch of every query visits them (120 ms a query at 100,000 after a training,
        # bench_similar). VACUUM runs outside a transaction.
        engine = self.database.engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("VACUUM (ANALYZE) image_vector_lists"))
