"""ScanVectorIndex: embeddings as float32 blobs, searched by an exact numpy scan of the scope.

The adapter of both databases until a vector index can be installed (README): exact, and as
slow as the scope is large (bench_similar.py figures).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from sqlalchemy import LargeBinary, Uuid, bindparam, column, delete, insert, table, text
from sqlalchemy.orm import Session

from bitimage.search.vectors import DIMENSIONS, TABLE, Neighbour, scope_sql, unit

_CHUNK = 20_000  # rows a fetch: bounds the memory of one scan
_VECTORS = table(TABLE, column("image_id", Uuid), column("embedding", LargeBinary))


class ScanVectorIndex:
    """Vectors in any SQL database, nearest neighbours by reading every vector in scope."""

    def put(self, session: Session, image_id: uuid.UUID, vector: np.ndarray[Any, Any]) -> None:
        """Make `vector` the image's embedding (a reanalysis replaces it)."""
        # The image row is locked by the analysis save: no other writer races this pair.
        session.execute(delete(_VECTORS).where(_VECTORS.c.image_id == image_id))
        session.execute(
            insert(_VECTORS).values(image_id=image_id, embedding=unit(vector).tobytes())
        )

    def nearest(
        self, session: Session, image_id: uuid.UUID, owner: uuid.UUID | None, limit: int
    ) -> list[Neighbour]:
        """The `limit` images closest to this one in scope, most similar first."""
        own = session.execute(
            text(f"SELECT embedding FROM {TABLE} WHERE image_id = :id")  # noqa: S608 - fixed names
            .bindparams(bindparam("id", image_id, type_=Uuid))
            .columns(column("embedding", LargeBinary))
        ).scalar()
        if own is None:
            return []
        query_vector = np.frombuffer(own, dtype=np.float32)
        scope, params = scope_sql(owner)
        rows = session.execute(
            text(
                f"SELECT v.image_id, v.embedding FROM {TABLE} v"  # noqa: S608 - fixed names
                " JOIN images ON images.id = v.image_id"
                f" WHERE v.image_id <> :self AND {scope}"
            )
            .bindparams(*params)
            .bindparams(bindparam("self", image_id, type_=Uuid))
        )
        # Raw rows: ids are converted for the kept few only (most of a scan's cost otherwise).
        best: list[tuple[float, str]] = []
        while chunk := rows.fetchmany(_CHUNK):
            matrix = np.frombuffer(b"".join(row[1] for row in chunk), dtype=np.float32)
            scores = matrix.reshape(len(chunk), DIMENSIONS) @ query_vector
            keep = (
                np.argpartition(-scores, limit)[:limit] if len(chunk) > limit else range(len(chunk))
            )
            best += [(float(scores[i]), str(chunk[i][0])) for i in keep]
            best = sorted(best, key=lambda pair: (-pair[0], pair[1]))[:limit]
        return [Neighbour(uuid.UUID(found), score) for score, found in best]
