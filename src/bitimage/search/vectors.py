"""The vector index port: image embeddings stored per image, nearest neighbours in a scope.

Vectors live in `image_search_vectors` (one row an image, deleted with it by a foreign key
cascade). Bootstrap picks the adapter: on PostgreSQL pgvector's HNSW where the server has
pgvector (vectors_hnsw.py), else, and on SQLite, an inverted-file index in plain tables
(vectors_ivf.py): Python's sqlite3 here cannot load extensions such as sqlite-vec (README).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import BindParameter, Uuid, bindparam
from sqlalchemy.orm import Session

DIMENSIONS = 1280  # the classifier's pooled features (analysis/onnx_build.EMBEDDING_SIZE)
TABLE = "image_search_vectors"


@dataclass(frozen=True)
class Neighbour:
    """An image and its cosine similarity to the one asked about (1: the same direction)."""

    image_id: uuid.UUID
    similarity: float


class VectorIndex(Protocol):
    """Stores unit embeddings and finds the nearest ones among the images a viewer may see."""

    def put(self, session: Session, image_id: uuid.UUID, vector: np.ndarray[Any, Any]) -> None:
        """Make `vector` the image's embedding (a reanalysis replaces it)."""
        ...

    def nearest(
        self, session: Session, image_id: uuid.UUID, owner: uuid.UUID | None, limit: int
    ) -> list[Neighbour]:
        """The `limit` images closest to this one, itself excluded, most similar first.

        Scope: `owner`'s library, or (None) public images that are not flagged. Empty when
        the image has no embedding yet.
        """
        ...


def unit(vector: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The vector as float32 of length one (checked to have DIMENSIONS values)."""
    flat = np.asarray(vector, dtype=np.float32).reshape(-1)
    if flat.shape != (DIMENSIONS,):
        raise ValueError(f"an embedding has {DIMENSIONS} values, not {flat.shape[0]}")
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0 else flat


def quantise(vector: np.ndarray[Any, Any]) -> tuple[float, bytes]:
    """A unit vector as (scale, 8-bit code): `code * scale` approximates it within 0.4%."""
    peak = float(np.abs(vector).max()) or 1.0
    return peak / 127.0, np.rint(vector * (127.0 / peak)).astype(np.int8).tobytes()


def scope_sql(owner: uuid.UUID | None) -> tuple[str, list[BindParameter[Any]]]:
    """The images a viewer may be shown (SQL on `images`): the owner's, or public, unflagged."""
    if owner is None:
        # As kind=duplicate's scope (duplicate_repository.candidate_query).
        return "NOT images.is_private AND images.moderation <> 'flagged'", []
    return "images.user_id = :owner", [bindparam("owner", owner, type_=Uuid)]
