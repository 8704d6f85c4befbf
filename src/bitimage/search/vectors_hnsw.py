"""HnswVectorIndex: pgvector's HNSW on PostgreSQL servers that have it, the IVF elsewhere.

Migration 0013 builds `image_vectors_hnsw` (a `halfvec(1280)` an image, an HNSW index for inner
product, a B-tree on the owner) when the server offers pgvector; without it this adapter is the
IVF (vectors_ivf.py). The IVF's rows are written beside the HNSW ones either way, so that a
server losing pgvector (a downgrade of 0013) falls back to an index that is up to date.
A query takes RERANK candidates from pgvector and re-scores them from the float32 embeddings,
so `similarity` is the exact cosine, as with the IVF:
- public scope: the HNSW graph, filtered by a join with `images` as it walks (pgvector's
  iterative scan: it goes on past `ef_search` until enough rows pass the filter);
- an owner's library: the planner chooses from pgvector's estimate of the owner's share, the
  graph filtered by owner for a large library, or for a small one (whose rows a graph walk
  would rarely meet) the owner's B-tree and an exact sort of all its rows.
What it may miss: a neighbour the graph walk does not reach (recall@10, bench_similar.py).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from bitimage.search.vectors import TABLE, Neighbour, scope_sql, unit
from bitimage.search.vectors_codes import rerank
from bitimage.search.vectors_ivf import RERANK, IvfVectorIndex

HNSW_TABLE = "image_vectors_hnsw"
EF_SEARCH = 100  # the walk's candidate list; at least the candidates a query keeps

_PUT = text(
    f"INSERT INTO {HNSW_TABLE} (image_id, user_id, embedding)"  # noqa: S608
    " SELECT id, user_id, CAST(:embedding AS halfvec) FROM images WHERE id = :image_id"
    " ON CONFLICT (image_id) DO UPDATE SET embedding = EXCLUDED.embedding"
)
_QUERY = f"(SELECT embedding FROM {HNSW_TABLE} WHERE image_id = :self)"  # noqa: S608


def literal(vector: np.ndarray[Any, Any]) -> str:
    """A vector as pgvector's text form (6 significant digits: more than a halfvec keeps)."""
    return "[" + ",".join(f"{value:.6g}" for value in vector.tolist()) + "]"


class HnswVectorIndex:
    """PostgreSQL's vector index: pgvector's HNSW where migration 0013 built it, else the IVF."""

    def __init__(self, ivf: IvfVectorIndex) -> None:
        self.ivf = ivf
        self._present = False  # only True is kept: a later migration may still build it

    def present(self, session: Session) -> bool:
        """Whether this database has the HNSW table (the server had pgvector at migration)."""
        if not self._present:
            found = session.execute(text(f"SELECT to_regclass('{HNSW_TABLE}') IS NOT NULL"))
            self._present = bool(found.scalar_one())
        return self._present

    def put(self, session: Session, image_id: uuid.UUID, vector: np.ndarray[Any, Any]) -> None:
        """Make `vector` the image's embedding, in the IVF's rows and in the HNSW table."""
        self.ivf.put(session, image_id, vector)
        if self.present(session):
            # From `images`: an image deleted before its analysis was saved gets no row.
            params = {"image_id": image_id, "embedding": literal(unit(vector))}
            session.execute(_PUT, params)

    def nearest(
        self, session: Session, image_id: uuid.UUID, owner: uuid.UUID | None, limit: int
    ) -> list[Neighbour]:
        """The `limit` images closest to this one in scope, most similar first."""
        if not self.present(session):
            return self.ivf.nearest(session, image_id, owner, limit)
        own = session.execute(
            text(f"SELECT embedding FROM {TABLE} WHERE image_id = :id"),  # noqa: S608
            {"id": image_id},
        ).scalar()
        if own is None:
            return []
        keep = max(RERANK, 4 * limit)
        sql = self.statement(owner)
        params: dict[str, Any] = {"self": image_id, "keep": keep, "owner": owner}
        # Local to this transaction; iterative: a filtered walk goes on until `keep` rows pass.
        session.execute(
            text(
                "SELECT set_config('hnsw.ef_search', :ef, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            ),
            {"ef": str(max(EF_SEARCH, keep))},
        )
        ids = list(session.execute(text(sql), params).scalars())
        query = np.frombuffer(own, dtype=np.float32)
        return rerank(session, query, ids, limit) if ids else []

    def statement(self, owner: uuid.UUID | None) -> str:
        """The candidates' query (`:self`, `:keep`, `:owner`) for this scope."""
        if owner is None:
            scope, _ = scope_sql(None)
            return (
                f"SELECT v.image_id FROM {HNSW_TABLE} v JOIN images ON images.id = v.image_id"  # noqa: S608
                f" WHERE v.image_id <> :self AND {scope}"
                f" ORDER BY v.embedding <#> {_QUERY} LIMIT :keep"
            )
        # The planner chooses: the graph for a large library, the owner's B-tree and a sort
        # of every row for a small one (pgvector estimates the filter's selectivity).
        return (
            f"SELECT v.image_id FROM {HNSW_TABLE} v"  # noqa: S608
            " WHERE v.user_id = :owner AND v.image_id <> :self"
            f" ORDER BY v.embedding <#> {_QUERY} LIMIT :keep"
        )
