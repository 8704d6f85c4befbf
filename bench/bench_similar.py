"""Issue 15, point 3b: visually similar images (kind=visual) at scale, on SQLite and PostgreSQL.

One user with N images (100,000; --images N) in a fresh database of each kind (PostgreSQL: made
here, dropped after), each with a random-but-clustered unit vector of 1280 values (a random
centre per 100 images; each vector a centre plus Gaussian noise, normalised: near neighbours
exist, as among photos of the same subjects), written by the bulk path (Core inserts in chunks)
as the index's put writes them (float32 embedding, 8-bit code, generation 0); 40% of the
images are public.
Timed, in one run: p50/p99 of DuplicateService.similar(kind=visual, limit=10) (the vector query
through the index adapter, then the summaries) over 200 images, first untrained (generation 0:
every code in scope is scanned, the fallback), then after one upkeep pass (training + filing,
timed; then settle(): statistics, a checkpoint, the bench's own objects frozen), privately
(the owner's 100,000) and publicly (the 40,000 public ones). Recall@10: the ten ids the index
returned against the ten of an exact scan of every vector in scope (numpy, in memory),
averaged, computed after the timed lookups.
Options: --quick (5,000 images, 50 lookups); --images N; --database sqlite|postgresql|both.
Run: python -m bench.bench_similar [--quick]
"""

from __future__ import annotations

import gc
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
from bitimage.search.vectors import DIMENSIONS, quantise
from bitimage.search.vectors_hnsw import HNSW_TABLE, HnswVectorIndex, literal

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

PER_CENTRE = 100  # images around each random centre: 1,000 centres at 100,000 images
NOISE = 0.6  # the spread around a centre, relative to the centre's length (1)
CHUNK = 2_000
PUBLIC_EVERY = 5  # images n % 5 in (0, 1) are public: 40%
HNSW_INDEX = "ix_image_vectors_hnsw_embedding"  # migration 0013's


def vectors(count: int, seed: int = 15) -> np.ndarray[Any, np.dtype[np.float32]]:
    """`count` unit vectors, PER_CENTRE around each of count / PER_CENTRE random unit centres."""
    rng = np.random.default_rng(seed)
    centres_count = max(1, count // PER_CENTRE)
    centres = rng.normal(size=(centres_count, DIMENSIONS)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(scale=NOISE / np.sqrt(DIMENSIONS), size=(count, DIMENSIONS))
    points = (centres[rng.integers(0, centres_count, count)] + noise).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points


def populate(
    container: Container, owner: uuid.UUID, points: np.ndarray[Any, Any], public: bool = True
) -> list[uuid.UUID]:
    """One user, an image row and a vector per point (40% public, or none); the ids."""
    ids = [
        uuid.UUID(int=random.Random(f"{owner}/{n}").getrandbits(128), version=4)
        for n in range(len(points))
    ]
    with container.database.transaction() as session:
        user = {"id": owner, "image_upload_count": len(ids), "image_upload_limit": None}
        session.execute(USERS.insert(), [{**user, "created_at": START}])
        for at in range(0, len(ids), CHUNK):
            rows = [
                {"id": image_id, "user_id": owner, "name": f"photo {n}", "hash": f"{n:032x}",
                 "size_bytes": 1000, "file_format": "jpeg", "width": 64, "height": 48,
                 "is_private": not (public and n % PUBLIC_EVERY <= 1),
                 "storage_key": f"images/{owner}/{image_id}",
                 "analysis_status": "done", "moderation": "none",
                 "public_copy": public and n % PUBLIC_EVERY <= 1,
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
            session.execute(
                text(
                    "INSERT INTO image_vector_lists (image_id, user_id, generation, list_no,"
                    " scale, code) VALUES (:id, :owner, 0, 0, :scale, :code)"
                ),
                [
                    {"id": image_id if postgres else image_id.hex,
                     "owner": owner if postgres else owner.hex,
                     "scale": quantise(point)[0], "code": quantise(point)[1]}
                    for image_id, point in chunk
                ],
            )  # fmt: skip
    return ids


def measure(
    container: Container,
    owner: uuid.UUID | None,
    ids: list[uuid.UUID],
    points: np.ndarray[Any, Any],
    chosen: list[int],
    scope: np.ndarray[Any, Any],
) -> tuple[list[float], float]:
    """Sorted timings (ms) of kind=visual lookups of the `chosen` images, and recall@10.

    `ids` and `points` are every image's; `scope` the positions the viewer may see.
    """
    index = {image_id: n for n, image_id in enumerate(ids)}
    query = SimilarQuery(kind="visual", limit=10)
    viewer = owner if owner is not None else uuid.UUID(int=16, version=4)
    answers, timings = [], []
    with container.database.transaction(write=False) as session:
        container.duplicates.similar(session, viewer, ids[chosen[0]], query)  # warm-up
        for n in chosen:
            began = time.perf_counter()
            found = container.duplicates.similar(session, viewer, ids[n], query)
            timings.append((time.perf_counter() - began) * 1000)
            answers.append({index[entry.image.id] for entry in found.images})
    # The exact answers after the timing: BLAS's threads, busy for a while after a product of
    # this size, would otherwise share the cores with the next timed lookup.
    recalls = []
    for n, got in zip(chosen, answers, strict=True):
        scores = points[scope] @ points[n]
        scores[scope == n] = -2.0  # itself is never an answer
        exact = set(scope[np.argpartition(-scores, 10)[:10]].tolist())
        recalls.append(len(got & exact) / 10)
    return sorted(timings), float(np.mean(recalls))


def settle(container: Container) -> None:
    """Steady state before timing: the upkeep's rewrite flushed, the bench's own objects frozen.

    Refiling rewrites every row; until the database has written them out (PostgreSQL's
    checkpoint, SQLite's WAL folded back) the first queries share the disk with that work. And
    the bench keeps ~300,000 objects of its own (ids, the index of them) that a server does
    not: frozen, Python's full collections stop walking them in the middle of a query.
    """
    postgres = container.database.dialect == "postgresql"
    # ANALYZE too: autovacuum would have given a live server statistics of the bulk-written
    # tables; without them the planner scanned every image to check a few hundred ids.
    statements = ["ANALYZE", "CHECKPOINT"] if postgres else ["PRAGMA wal_checkpoint(TRUNCATE)"]
    with container.database.engine.connect() as connection:
        for statement in statements:
            connection.execute(text(statement))
        connection.commit()
    gc.collect()
    gc.freeze()


def public_mask(count: int) -> np.ndarray[Any, Any]:
    """Which of `count` images populate() made public."""
    return np.arange(count) % PUBLIC_EVERY <= 1


def fill_hnsw(
    container: Container,
    owner_ids: list[tuple[uuid.UUID, list[uuid.UUID]]],
    points: np.ndarray[Any, Any],
) -> float:
    """pgvector's rows for every image (bulk), then its graph built at once; the build's seconds.

    As migration 0013 does for an existing library: rows first, one build of the graph after.
    """  # fmt: skip
    with container.database.transaction() as session:
        session.execute(text(f"DROP INDEX IF EXISTS {HNSW_INDEX}"))
        at = 0
        for owner, ids in owner_ids:
            for start in range(0, len(ids), CHUNK):
                session.execute(
                    text(
                        f"INSERT INTO {HNSW_TABLE} (image_id, user_id, embedding)"  # noqa: S608
                        " VALUES (:id, :owner, CAST(:v AS halfvec))"
                    ),
                    [
                        {"id": image_id, "owner": owner, "v": literal(points[at + n])}
                        for n, image_id in enumerate(ids[start : start + CHUNK], start)
                    ],
                )
            at += len(ids)
    began = time.perf_counter()
    with container.database.transaction() as session:
        session.execute(text("SET LOCAL maintenance_work_mem = '2GB'"))
        session.execute(
            text(f"CREATE INDEX {HNSW_INDEX} ON {HNSW_TABLE} USING hnsw (embedding halfvec_ip_ops)")
        )
    return time.perf_counter() - began


def planned(container: Container, owner: uuid.UUID | None, image_id: uuid.UUID) -> str:
    """How PostgreSQL's planner answers this scope: by the graph, or by sorting its rows."""
    index = container.duplicates.vectors
    assert isinstance(index, HnswVectorIndex)
    with container.database.transaction(write=False) as session:
        plan = session.execute(
            text("EXPLAIN " + index.statement(owner)),
            {"self": image_id, "keep": 64, "owner": owner},
        )
        graph = any(HNSW_INDEX in row[0] for row in plan)
    return "graph" if graph else "rows sorted"


def scale(database: str, count: int, lookups: int) -> list[tuple[str, str]]:
    """Populate, time lookups untrained and trained, measure recall@10; rows of the report."""
    small = count // 10  # a second library, private: a tenth of the first
    points = vectors(count + small)
    owner, other = uuid.UUID(int=15, version=4), uuid.UUID(int=16, version=4)
    rng = random.Random(15)
    private = rng.sample(range(count), lookups)
    public = rng.sample(np.flatnonzero(public_mask(count)).tolist(), lookups)
    theirs = rng.sample(range(count, count + small), lookups)
    mine_scope, their_scope = np.arange(count), np.arange(count, count + small)
    public_scope = np.flatnonzero(public_mask(count))
    rows: list[tuple[str, str]] = []

    def report(what: str, timings: list[float], recall: float) -> None:
        rows.append(
            (
                f"{database}: {what}, p50 / p99 over {len(timings)}",
                f"{percentile(timings, 0.5):.1f} / {percentile(timings, 0.99):.1f} ms",
            )
        )
        rows.append((f"{database}: {what}, recall@10", f"{recall:.3f}"))  # fmt: skip

    with (
        tempfile.TemporaryDirectory(prefix="bench-similar-") as folder,
        opened(database, Path(folder)) as container,
    ):
        began = time.perf_counter()
        ids = populate(container, owner, points[:count])
        ids += populate(container, other, points[count:], public=False)
        rows.append((f"{database}: populate {count + small:,} images and vectors (bulk)",
                     f"{time.perf_counter() - began:.1f} s"))  # fmt: skip
        served = container.duplicates.vectors
        ivf = container.vector_upkeep.index
        postgres = database == "postgresql"
        if postgres:  # the IVF first, as the service would use it on a server without pgvector
            container.duplicates.vectors = ivf
        scan = measure(container, owner, ids, points, private[: max(10, lookups // 10)], mine_scope)
        report("IVF untrained (scan of the codes), private", *scan)
        began = time.perf_counter()
        done = container.vector_upkeep.run()
        rows.append((f"{database}: IVF upkeep pass ({done.lists} lists, {done.reassigned:,} filed)",
                     f"{time.perf_counter() - began:.1f} s"))  # fmt: skip
        settle(container)
        indexed = measure(container, owner, ids, points, private, mine_scope)
        report("IVF, private", *indexed)
        report("IVF, public", *measure(container, None, ids, points, public, public_scope))
        report(f"IVF, private, an owner of {small:,}",
               *measure(container, other, ids, points, theirs, their_scope))  # fmt: skip
        rows.append((f"{database}: IVF untrained p50 / indexed p50 (private)",
                     f"{percentile(scan[0], 0.5) / percentile(indexed[0], 0.5):.1f}x"))  # fmt: skip
        if postgres:
            container.duplicates.vectors = served
            built = fill_hnsw(container, [(owner, ids[:count]), (other, ids[count:])], points)
            rows.append((f"{database}: pgvector HNSW graph built over {count + small:,}",
                         f"{built:.1f} s"))  # fmt: skip
            settle(container)
            for who, n, scope, label in (
                (owner, private, mine_scope, "private"),
                (None, public, public_scope, "public"),
                (other, theirs, their_scope, f"private, an owner of {small:,}"),
            ):
                way = planned(container, who, ids[n[0]])
                report(f"pgvector ({way}), {label}",
                       *measure(container, who, ids, points, n, scope))  # fmt: skip
    return rows


def main() -> None:
    count = option("--images", 5_000 if quick() else 100_000)
    lookups = option("--lookups", 50 if quick() else 200)
    chosen = text_option("--database", "both")
    databases = ["sqlite", "postgresql"] if chosen == "both" else [chosen]
    rows: list[tuple[str, str]] = []
    for database in databases:
        rows += scale(database, count, lookups)
    print(f"one user, {count:,} images, {count // PER_CENTRE:,} clusters of 1280-d unit vectors")
    print(table(rows, ("what", "figure")))


if __name__ == "__main__":
    main()
