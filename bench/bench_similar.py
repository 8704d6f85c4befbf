"""Issue 15, point 3b: visually similar images (kind=visual) at scale, on SQLite and PostgreSQL.

One user with N images (100,000; --images N) in a fresh database of each kind (PostgreSQL: made
here, dropped after), each with a random-but-clustered unit vector of 1280 values (1,000 random
centres; each vector a centre plus Gaussian noise, normalised: near neighbours exist, as among
photos of the same subjects), written by the bulk path (Core inserts in chunks). Both databases
store the vectors as float32 blobs scanned exactly (search/vectors_scan.py): no vector index is
installable here yet (README), so recall is 1 and the time is the scan's.
Timed: p50/p99 of DuplicateService.similar(kind=visual, limit=10) (the vector query through the
index adapter, then the summaries) over 200 images. Recall@10: the ten ids the index returned
against the ten of an exact scan of every vector (numpy, in memory), averaged.
Options: --quick (5,000 images, 50 lookups); --images N; --database sqlite|postgresql|both.
Run: python -m bench.bench_similar [--quick]
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from bitimage.bootstrap import Container
from bitimage.images.duplicate_schemas import SimilarQuery
from bitimage.search.vectors import DIMENSIONS

try:
    from bench._common import option, percentile, quick, table, text_option
    from bench.bench_duplicates import IMAGES, START, USERS, opened
except ModuleNotFoundError:  # run as `python bench/bench_similar.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        option,
        percentile,
        quick,
        table,
        text_option,
    )
    from bench_duplicates import (  # type: ignore[import-not-found,no-redef]
        IMAGES,
        START,
        USERS,
        opened,
    )

CENTRES = 1_000
NOISE = 0.6  # the spread around a centre, relative to the centre's length (1)
CHUNK = 2_000


def vectors(count: int, seed: int = 15) -> np.ndarray[Any, np.dtype[np.float32]]:
    """`count` unit vectors around CENTRES random unit centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CENTRES, DIMENSIONS)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(scale=NOISE / np.sqrt(DIMENSIONS), size=(count, DIMENSIONS))
    points = (centres[rng.integers(0, CENTRES, count)] + noise).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points


def populate(
    container: Container, owner: uuid.UUID, points: np.ndarray[Any, Any]
) -> list[uuid.UUID]:
    """One user, an image row and a vector per point; the ids, oldest first."""
    ids = [uuid.UUID(int=random.Random(n).getrandbits(128), version=4) for n in range(len(points))]
    with container.database.transaction() as session:
        user = {"id": owner, "image_upload_count": len(ids), "image_upload_limit": None}
        session.execute(USERS.insert(), [{**user, "created_at": START}])
        for at in range(0, len(ids), CHUNK):
            rows = [
                {"id": image_id, "user_id": owner, "name": f"photo {n}", "hash": f"{n:032x}",
                 "size_bytes": 1000, "file_format": "jpeg", "width": 64, "height": 48,
                 "is_private": True, "storage_key": f"images/{owner}/{image_id}",
                 "analysis_status": "done", "moderation": "none", "public_copy": False,
                 "created_at": START + timedelta(seconds=n), "rendered_at": START,
                 "placeholder": "x"}
                for n, image_id in enumerate(ids[at : at + CHUNK], at)
            ]  # fmt: skip
            session.execute(IMAGES.insert(), rows)
            chunk = list(zip(ids[at : at + CHUNK], points[at : at + CHUNK], strict=True))
            postgres = container.database.dialect == "postgresql"
            session.execute(
                text("INSERT INTO image_search_vectors VALUES (:id, :v)"),
                [
                    {"id": image_id if postgres else image_id.hex, "v": point.tobytes()}
                    for image_id, point in chunk
                ],
            )
    return ids


def scale(database: str, count: int, lookups: int) -> list[tuple[str, str]]:
    """Populate, then time kind=visual lookups and measure recall@10; rows of the report."""
    points = vectors(count)
    owner = uuid.UUID(int=15, version=4)
    rng = random.Random(15)
    with (
        tempfile.TemporaryDirectory(prefix="bench-similar-") as folder,
        opened(database, Path(folder)) as container,
    ):
        began = time.perf_counter()
        ids = populate(container, owner, points)
        populated = time.perf_counter() - began
        index = {image_id: n for n, image_id in enumerate(ids)}
        query = SimilarQuery(kind="visual", limit=10)
        timings, recalls = [], []
        with container.database.transaction(write=False) as session:
            container.duplicates.similar(session, owner, ids[0], query)  # warm-up
            for n in rng.sample(range(count), lookups):
                began = time.perf_counter()
                found = container.duplicates.similar(session, owner, ids[n], query)
                timings.append((time.perf_counter() - began) * 1000)
                scores = points @ points[n]
                scores[n] = -2.0  # itself is never an answer
                exact = set(np.argpartition(-scores, 10)[:10].tolist())
                got = {index[entry.image.id] for entry in found.images}
                recalls.append(len(got & exact) / 10)
        timings.sort()
    return [
        (f"{database}: populate {count:,} images and vectors (bulk)", f"{populated:.1f} s"),
        (f"{database}: similar(kind=visual, limit=10), p50 / p99 over {lookups}",
         f"{percentile(timings, 0.5):.1f} / {percentile(timings, 0.99):.1f} ms"),
        (f"{database}: recall@10 against an exact scan", f"{np.mean(recalls):.3f}"),
    ]  # fmt: skip


def main() -> None:
    count = option("--images", 5_000 if quick() else 100_000)
    lookups = option("--lookups", 50 if quick() else 200)
    chosen = text_option("--database", "both")
    databases = ["sqlite", "postgresql"] if chosen == "both" else [chosen]
    rows: list[tuple[str, str]] = []
    for database in databases:
        rows += scale(database, count, lookups)
    print(f"one user, {count:,} images, {CENTRES:,} clusters of 1280-d unit vectors")
    print(table(rows, ("what", "figure")))


if __name__ == "__main__":
    main()
