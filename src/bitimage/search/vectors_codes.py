"""The vector index's arithmetic and fetching: centroids, 8-bit codes, scores, raw rows."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bitimage.search.vectors import DIMENSIONS, TABLE, Neighbour

_PLACEHOLDER = re.compile(r":(\w+)")


@dataclass(frozen=True)
class Centroids:
    """One generation of centroids: unit rows, row n the centre of list n."""

    generation: int
    matrix: np.ndarray[Any, np.dtype[np.float32]]

    def nearest(self, vectors: np.ndarray[Any, Any], count: int = 1) -> np.ndarray[Any, Any]:
        """The `count` lists nearest each vector (rows), nearest first."""
        if vectors.ndim == 1:  # one query: see dot()
            scores = dot(self.matrix, vectors)[None, :]
        else:  # a batch (the upkeep's): a matrix product is worth BLAS's threads
            scores = vectors @ self.matrix.T
        if count == 1:
            first: np.ndarray[Any, Any] = np.argmax(scores, axis=1)[:, None]
            return first
        best = np.argpartition(-scores, count - 1, axis=1)[:, :count]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
        return np.take_along_axis(best, order, axis=1)


def dot(matrix: np.ndarray[Any, Any], vector: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each row of `matrix` (float32 or 8-bit codes) times `vector`, as float32 scores."""
    # einsum's own loop, not BLAS: a matrix-vector product is memory-bound, and BLAS's thread
    # hand-off cost 7 ms where this takes 1 (1,600 codes, two busy cores), with no int8 copy.
    scores: np.ndarray[Any, Any] = np.einsum("ij,j->i", matrix, vector, dtype=np.float32)
    return scores


def fetch(
    session: Session, sql: str, params: dict[str, Any], lists: tuple[str, ...] = ()
) -> list[Any]:
    """The rows of `sql` (`:name` parameters, `x IN :name` for each list), ids left raw.

    Raw: ids are converted for the kept few only (most of a probe's cost otherwise).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        for name in lists:
            sql = re.sub(rf"IN :{name}\b", f"= ANY(:{name})", sql)
        # Binary results: a code arrives as its 1,280 bytes, not as 2,560 hex digits to decode
        # (2,000 rows on loopback: 17 ms instead of 29).
        driver = connection.connection.driver_connection
        native = _PLACEHOLDER.sub(r"%(\1)s", sql)
        driver_error = connection.dialect.dbapi.Error  # type: ignore[union-attr]
        try:
            with driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]
                cursor.execute(native, params)
                return list(cursor.fetchall())
        except driver_error as exc:
            # As SQLAlchemy would have raised it: the app answers a database that is down with
            # 503 (DBAPIError), where the driver's own error would have been a 500.
            raise DBAPIError.instance(
                native, None, exc, driver_error, dialect=connection.dialect
            ) from exc
    # SQLite keeps a UUID as its 32 hex digits (SQLAlchemy's Uuid there).
    plain = {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in params.items()}
    statement = text(sql).bindparams(*(bindparam(name, expanding=True) for name in lists))
    return list(session.execute(statement, plain).all())


def decode(codes: list[bytes], scales: list[float]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """8-bit codes back to approximate vectors (rows)."""
    matrix = np.frombuffer(b"".join(codes), dtype=np.int8).reshape(len(codes), DIMENSIONS)
    return matrix.astype(np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


def rerank(
    session: Session, query: np.ndarray[Any, Any], raw_ids: list[Any], limit: int
) -> list[Neighbour]:
    """The `limit` of these images nearest `query` by their float32 embeddings, best first."""
    sql = f"SELECT image_id, embedding FROM {TABLE} WHERE image_id IN :ids"  # noqa: S608
    rows = fetch(session, sql, {"ids": raw_ids}, lists=("ids",))
    matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
    scores = dot(matrix.reshape(len(rows), DIMENSIONS), query)
    ranked = sorted(
        ((float(score), str(row[0])) for score, row in zip(scores, rows, strict=True)),
        key=lambda pair: (-pair[0], pair[1]),
    )[:limit]
    return [Neighbour(uuid.UUID(found), score) for score, found in ranked]
