"""IvfVectorIndex: an inverted-file index over 8-bit codes, in plain tables of either database.

Why an index of our own: neither pgvector nor a SQLite able to load sqlite-vec can be installed
here (README), and an exact scan reads every vector in scope (2.3 s at 100,000 on SQLite). An IVF
index needs only a table, two B-tree indexes and numpy:
- each image's row in `image_vector_lists` holds its owner, an 8-bit code of its embedding (1,280
  bytes, small enough to stay inside the row on PostgreSQL) and its list: the nearest centroid
  of the generation it was assigned under;
- a query probes the lists of the `probes_for(lists)` centroids nearest to it, in scope, and
  as many of the generation before (rows a retraining has not refiled yet), plus every row of
  any older generation (saved while the upkeep retrained, or before any training: scanned,
  never missed), scores them on their codes, and re-scores the best RERANK exactly from the
  float32 embeddings.
What it may miss: a neighbour whose list is not among the probed ones (recall@10 measured by
bench/bench_similar.py). The upkeep (vectors_upkeep.py) trains the centroids and reassigns rows.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np
from sqlalchemy import (
    Float,
    Integer,
    LargeBinary,
    Uuid,
    bindparam,
    column,
    delete,
    func,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session

from bitimage.search.vectors import DIMENSIONS, TABLE, Neighbour, quantise, scope_sql, unit
from bitimage.search.vectors_codes import Centroids, decode, dot, fetch, rerank

RERANK = 64  # candidates re-scored from their float32 embeddings (at least 4 x the limit)
MIN_PROBES = 8
_ID_CHUNK = 5_000  # ids a query names (SQLite allows 32,766 parameters)

VECTORS = table(TABLE, column("image_id", Uuid), column("embedding", LargeBinary))
LISTS = table(
    "image_vector_lists",
    column("image_id", Uuid),
    column("user_id", Uuid),
    column("generation", Integer),
    column("list_no", Integer),
    column("scale", Float),
    column("code", LargeBinary),
)
CENTROIDS = table(
    "image_vector_centroids",
    column("generation", Integer),
    column("list_no", Integer),
    column("centroid", LargeBinary),
)
STATE = table(
    "image_vector_index", column("id", Integer), column("generation", Integer), column("lists")
)
_IMAGES = table("images", column("id", Uuid), column("user_id", Uuid))


def probes_for(lists: int) -> int:
    """How many lists a query reads: one in 128, at least MIN_PROBES (bench_similar).

    At 100,000 vectors (1,265 lists) 10 probes gave recall@10 1.000 as 20 did, reading ~800
    rows instead of ~1,600.
    """
    return min(lists, max(MIN_PROBES, math.ceil(lists / 128)))


class IvfVectorIndex:
    """Vectors in any SQL database, nearest neighbours by probing the closest lists."""

    def __init__(self) -> None:
        # Centroids change only when the upkeep retrains; one generation is kept per process.
        self._cached: dict[int, Centroids] = {}

    def generation(self, session: Session) -> int:
        """The current generation of centroids (0: never trained)."""
        return int(session.execute(select(STATE.c.generation).where(STATE.c.id == 1)).scalar_one())

    def centroids(self, session: Session) -> Centroids | None:
        """The current centroids, None before the first training."""
        return self._load(session, self.generation(session))

    def _load(self, session: Session, generation: int) -> Centroids | None:
        """One generation's centroids (the current one, or the one before), None if gone."""
        if generation <= 0:
            return None
        cached = self._cached.get(generation)
        if cached is not None:
            return cached
        rows = session.execute(
            select(CENTROIDS.c.centroid)
            .where(CENTROIDS.c.generation == generation)
            .order_by(CENTROIDS.c.list_no)
        ).all()
        if not rows:  # replaced meanwhile, or the one before an only generation
            return None
        matrix = np.frombuffer(b"".join(row[0] for row in rows), dtype=np.float32)
        found = Centroids(generation, matrix.reshape(len(rows), DIMENSIONS))
        # Kept: this generation and the one before it (its rows wait to be refiled).
        self._cached = {
            g: c for g, c in {**self._cached, generation: found}.items() if g >= generation - 1
        }
        return found

    def put(self, session: Session, image_id: uuid.UUID, vector: np.ndarray[Any, Any]) -> None:
        """Make `vector` the image's embedding (a reanalysis replaces it) and file it in a list."""
        owner = session.execute(select(_IMAGES.c.user_id).where(_IMAGES.c.id == image_id)).scalar()
        if owner is None:  # deleted before its analysis was saved: nothing to index
            return
        flat = unit(vector)
        # The image row is locked by the analysis save: no other writer races this pair.
        session.execute(delete(VECTORS).where(VECTORS.c.image_id == image_id))
        session.execute(insert(VECTORS).values(image_id=image_id, embedding=flat.tobytes()))
        found = self.centroids(session)
        # Without centroids (or with ones retrained meanwhile) the row is filed as generation 0
        # or an older one: scanned by every query until the upkeep reassigns it.
        generation, list_no = (0, 0) if found is None else (found.generation, 0)
        if found is not None:
            list_no = int(found.nearest(flat)[0, 0])
        scale, code = quantise(flat)
        session.execute(delete(LISTS).where(LISTS.c.image_id == image_id))
        session.execute(
            insert(LISTS).values(
                image_id=image_id, user_id=owner, generation=generation, list_no=list_no,
                scale=scale, code=code,
            )
        )  # fmt: skip

    def nearest(
        self, session: Session, image_id: uuid.UUID, owner: uuid.UUID | None, limit: int
    ) -> list[Neighbour]:
        """The `limit` images closest to this one in scope, most similar first."""
        own = session.execute(select(VECTORS.c.embedding).where(VECTORS.c.image_id == image_id))
        embedding = own.scalar()
        if embedding is None:
            return []
        query = np.frombuffer(embedding, dtype=np.float32)
        found = self.centroids(session)
        before = None if found is None else self._load(session, found.generation - 1)
        share = 1.0 if owner is None or found is None else self._share(session, owner, found)
        rows = self._candidates(session, image_id, owner, query, found, before, share)
        if not rows:
            return []
        codes = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.int8)
        scales = np.fromiter((row[1] for row in rows), dtype=np.float32, count=len(rows))
        scores = dot(codes.reshape(len(rows), DIMENSIONS), query) * scales
        keep = max(RERANK, 4 * limit)
        best = np.argpartition(-scores, keep)[:keep] if len(rows) > keep else range(len(rows))
        return rerank(session, query, [rows[i][0] for i in best], limit)

    def _candidates(
        self,
        session: Session,
        image_id: uuid.UUID,
        owner: uuid.UUID | None,
        query: np.ndarray[Any, Any],
        found: Centroids | None,
        before: Centroids | None,
        share: float,
    ) -> list[Any]:
        params: dict[str, Any] = {"self": image_id}
        scope = "1 = 1"
        if owner is not None:  # the owner is in the row: its index reads that owner's lists only
            scope, params["owner"] = "l.user_id = :owner", owner
        select_from = (
            "SELECT l.image_id, l.scale, l.code FROM image_vector_lists l"  # noqa: S608
            f" WHERE l.image_id <> :self AND {scope} AND "
        )
        if found is None:
            rows = fetch(session, select_from + "1 = 1", params)
        else:
            # One select a generation, not an OR: each reads its own range of the (owner,)
            # generation, list index. Rows still filed under the generation before (a
            # retraining's refiling goes on) are probed by its own centroids; older ones are
            # scanned.
            parts, lists = [], []
            scanned_below = found.generation
            for centroids in (found, before):
                if centroids is None:
                    continue
                n = centroids.generation
                parts.append(f"{select_from}l.generation = {n} AND l.list_no IN :probes{n}")
                lists_count = len(centroids.matrix)
                wanted = min(lists_count, math.ceil(probes_for(lists_count) / share))
                probes = centroids.nearest(query, wanted)[0]
                params[f"probes{n}"] = [int(p) for p in probes]
                lists.append(f"probes{n}")
                scanned_below = n
            parts.append(f"{select_from}l.generation < {scanned_below}")
            rows = fetch(session, " UNION ALL ".join(parts), params, lists=tuple(lists))
        return rows if owner is not None else self._visible(session, rows)

    def _share(self, session: Session, owner: uuid.UUID, found: Centroids) -> float:
        """The owner's share of the vectors (at most 1), to probe as many more lists.

        A small library's nearest images lie farther away than a large one's, in lists beyond
        the usual few (bench_similar: an owner of 500 among 5,500 had recall@10 0.87 with
        them). The total is the one the lists were trained for (4 sqrt(N) lists).
        """
        trained_for = max(1.0, (len(found.matrix) / 4) ** 2)
        # Through the Uuid column, which binds the owner as each database stores it.
        mine = select(LISTS.c.image_id).where(LISTS.c.user_id == owner).limit(int(trained_for))
        count = session.execute(select(func.count()).select_from(mine.subquery())).scalar_one()
        return max(1, int(count)) / trained_for

    def _visible(self, session: Session, rows: list[Any]) -> list[Any]:
        """The rows whose image the public may see now (public, not flagged)."""
        # A second query by primary key, not a join: joined, PostgreSQL's planner hashed all of
        # `images` for a few hundred candidates (39 ms at 100,000 images, bench_similar).
        scope, _ = scope_sql(None)
        sql = f"SELECT images.id FROM images WHERE images.id IN :ids AND {scope}"  # noqa: S608
        visible: set[str] = set()
        for at in range(0, len(rows), _ID_CHUNK):
            ids = [row[0] for row in rows[at : at + _ID_CHUNK]]
            visible.update(str(found[0]) for found in fetch(session, sql, {"ids": ids}, ("ids",)))
        return [row for row in rows if str(row[0]) in visible]

    # The upkeep's steps (vectors_upkeep.py opens their transactions).

    def status(self, session: Session) -> tuple[int, int, int]:
        """(vectors, generation, lists) of the index."""
        count = session.execute(text("SELECT count(*) FROM image_vector_lists")).scalar_one()
        generation, lists = session.execute(
            select(STATE.c.generation, STATE.c.lists).where(STATE.c.id == 1)
        ).one()
        return int(count), int(generation), int(lists)

    def sample(self, session: Session, count: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Up to `count` stored vectors (decoded codes), in image id order: ids are random."""
        rows = session.execute(
            select(LISTS.c.scale, LISTS.c.code).order_by(LISTS.c.image_id).limit(count)
        ).all()
        return decode([row[1] for row in rows], [row[0] for row in rows])

    def install(self, session: Session, matrix: np.ndarray[Any, Any], expected: int) -> int | None:
        """Make `matrix` the next generation of centroids; None if another pass got there first."""
        current = session.execute(
            select(STATE.c.generation).where(STATE.c.id == 1).with_for_update()
        ).scalar_one()
        if current != expected:
            return None
        generation = int(current) + 1
        # The current generation stays, as the one before: its rows are probed by it until
        # they are refiled. Older ones go.
        session.execute(delete(CENTROIDS).where(CENTROIDS.c.generation < current))
        session.execute(
            insert(CENTROIDS),
            [
                {
                    "generation": generation,
                    "list_no": n,
                    "centroid": row.astype(np.float32).tobytes(),
                }
                for n, row in enumerate(matrix)
            ],
        )
        session.execute(
            update(STATE).where(STATE.c.id == 1).values(generation=generation, lists=len(matrix))
        )
        return generation

    def reassign(self, session: Session, batch: int) -> int:
        """File up to `batch` rows of older generations in the current lists; how many were read."""
        found = self.centroids(session)
        if found is None:
            return 0
        rows = session.execute(
            select(LISTS.c.image_id, LISTS.c.scale, LISTS.c.code)
            .where(LISTS.c.generation < found.generation)
            .limit(batch)
        ).all()
        if not rows:
            return 0
        lists = found.nearest(decode([row[2] for row in rows], [row[1] for row in rows]))[:, 0]
        # Guarded by the code: a row a reanalysis replaced meanwhile keeps its own filing.
        session.execute(
            update(LISTS)
            .where(LISTS.c.image_id == bindparam("target"))
            .where(LISTS.c.code == bindparam("seen"))
            .values(generation=found.generation, list_no=bindparam("list")),
            [
                {"target": row[0], "seen": row[2], "list": int(n)}
                for row, n in zip(rows, lists, strict=True)
            ],
        )
        return len(rows)
