"""What the vector index tests share: clustered unit vectors, stored images, two accounts."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from bitimage.search.vectors import DIMENSIONS, VectorIndex
from tests.support import add_image_row, auth, user_id

CLUSTERS, PER_CLUSTER = 24, 20


def clustered(count: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """`count` unit vectors, PER_CLUSTER around each random centre (neighbours are clear)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(count // PER_CLUSTER, DIMENSIONS))
    noise = rng.normal(scale=0.5 / np.sqrt(DIMENSIONS), size=(count, DIMENSIONS))
    points = (np.repeat(centres, PER_CLUSTER, axis=0) / np.sqrt(DIMENSIONS) + noise).astype(
        np.float32
    )
    unit: np.ndarray[Any, np.dtype[np.float32]] = points / np.linalg.norm(
        points, axis=1, keepdims=True
    )
    return unit


def store(
    container: Container,
    owner: uuid.UUID,
    points: np.ndarray[Any, Any],
    public: bool = False,
    index: VectorIndex | None = None,
) -> list[uuid.UUID]:
    """An image row and a vector per point, through the index's put (the container's IVF)."""
    index = index or container.vector_upkeep.index
    with container.database.transaction() as session:
        ids = [
            add_image_row(session, owner, f"p{n}", is_private=not public)
            for n in range(len(points))
        ]
        for image_id, point in zip(ids, points, strict=True):
            index.put(session, image_id, point)
    return ids


def exact(points: np.ndarray[Any, Any], n: int, limit: int) -> list[int]:
    scores = points @ points[n]
    scores[n] = -2.0
    return [int(i) for i in np.argsort(-scores)[:limit]]


def two_owners(client: TestClient, prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Two accounts' ids."""
    return (
        uuid.UUID(user_id(client, auth(client, f"{prefix}-a@example.com"))),
        uuid.UUID(user_id(client, auth(client, f"{prefix}-b@example.com"))),
    )
