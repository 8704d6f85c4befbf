"""PgVectorIndex: embeddings in a pgvector column, searched through its HNSW index (cosine).

A scope filter is applied while the index is walked: pgvector's iterative scan (0.8) goes on
past `hnsw.ef_search` candidates until `limit` rows pass the filter, so a small library among
many others still gets its full answer. The planner reads a small owner's rows exactly instead.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import Uuid, bindparam, column, text
from sqlalchemy.orm import Session

from bitimage.search.vectors import TABLE, Neighbour, scope_sql, unit

EF_SEARCH = 100  # HNSW candidates kept per query; recall@10 measured in bench_similar.py


def literal(vector: np.ndarray[Any, Any]) -> str:
    """pgvector's text form of a vector: [x,y,...]."""
    return "[" + ",".join(f"{x:.7g}" for x in unit(vector)) + "]"


class PgVectorIndex:
    """Vectors in PostgreSQL with pgvector."""

    def __init__(self, ef_search: int = EF_SEARCH) -> None:
        self.ef_search = ef_search

    def put(self, session: Session, image_id: uuid.UUID, vector: np.ndarray[Any, Any]) -> None:
        """Make `vector` the image's embedding (a reanalysis replaces it)."""
        session.execute(
            text(
                f"INSERT INTO {TABLE} (image_id, embedding) VALUES (:id, CAST(:v AS vector)) "  # noqa: S608 - fixed names
                "ON CONFLICT (image_id) DO UPDATE SET embedding = excluded.embedding"
            ).bindparams(bindparam("id", image_id, type_=Uuid), v=literal(vector))
        )

    def nearest(
        self, session: Session, image_id: uuid.UUID, owner: uuid.UUID | None, limit: int
    ) -> list[Neighbour]:
        """The `limit` images closest to this one in scope, most similar first."""
        own = session.execute(
            text(f"SELECT embedding::text FROM {TABLE} WHERE image_id = :id").bindparams(  # noqa: S608 - fixed names
                bindparam("id", image_id, type_=Uuid)
            )
        ).scalar()
        if own is None:
            return []
        # Local to the transaction: a pooled connection keeps no setting of this query's.
        session.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"),
                        {"ef": str(max(self.ef_search, limit))})  # fmt: skip
        session.execute(text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)"))
        scope, params = scope_sql(owner)
        # relaxed_order may return a near neighbour slightly out of order: sorted again outside.
        query = (
            text(
                "SELECT id, distance FROM ("  # noqa: S608 - fixed names
                f" SELECT v.image_id AS id, v.embedding <=> CAST(:q AS vector) AS distance"
                f" FROM {TABLE} v JOIN images ON images.id = v.image_id"
                f" WHERE v.image_id <> :self AND {scope}"
                " ORDER BY distance LIMIT :k) AS found ORDER BY distance, id"
            )
            .bindparams(*params)
            .bindparams(bindparam("self", image_id, type_=Uuid), q=own, k=limit)
            .columns(column("id", Uuid), column("distance"))
        )
        return [Neighbour(row.id, 1.0 - float(row.distance)) for row in session.execute(query)]
