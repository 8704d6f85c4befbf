"""Issue 15, point 3b: sqlite-vec against the IVF index Bit-image uses on SQLite, in one run.

The issue asked for sqlite-vec on SQLite. The `sqlite3` of this Python cannot load extensions,
so the product cannot use it; here it is loaded through `apsw` (its own SQLite, with extension
loading) to measure what it would give. The same N clustered unit vectors (bench_similar's,
100,000; --images N) go into a sqlite-vec `vec0` table (float32, cosine) and into the IVF of a
SQLite container (bench_similar's bulk path, then one upkeep pass); then the same lookups, 10
nearest of a stored image, timed on the index call alone (ids out, as vec0 gives them): p50 /
p99, recall@10 against an exact numpy scan, and the ratio of the two p99s.
Options: --quick (5,000 images, 30 lookups); --images N; --lookups N.
Run: python -m bench.bench_sqlite_vec [--quick]
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import apsw
import numpy as np
import sqlite_vec

try:
    from bench._common import option, percentile, quick, table
    from bench.bench_duplicates import opened
    from bench.bench_similar import populate, settle, vectors
except ModuleNotFoundError:  # run as `python bench/bench_sqlite_vec.py`
    from _common import option, percentile, quick, table  # type: ignore[import-not-found,no-redef]
    from bench_duplicates import opened  # type: ignore[import-not-found,no-redef]
    from bench_similar import populate, settle, vectors  # type: ignore[import-not-found,no-redef]


def exact(points: np.ndarray[Any, Any], n: int) -> set[int]:
    """The positions of the 10 vectors nearest point n, itself excluded."""
    scores = points @ points[n]
    scores[n] = -2.0
    return {int(i) for i in np.argpartition(-scores, 10)[:10]}


def sqlite_vec_run(
    points: np.ndarray[Any, Any], chosen: list[int], folder: Path
) -> tuple[list[float], float, float]:
    """Timings (ms) and recall@10 of vec0 KNN lookups, and the insert time (s)."""
    connection = apsw.Connection(str(folder / "vec.db"))
    connection.enable_load_extension(True)
    connection.load_extension(sqlite_vec.loadable_path())
    connection.execute("PRAGMA journal_mode = WAL")
    dims = points.shape[1]
    connection.execute(f"CREATE VIRTUAL TABLE v USING vec0(e float[{dims}] distance_metric=cosine)")
    began = time.perf_counter()
    with connection:
        for n, point in enumerate(points):
            connection.execute("INSERT INTO v (rowid, e) VALUES (?, ?)", (n + 1, point.tobytes()))
    inserted = time.perf_counter() - began
    timings, recalls = [], []
    for n in chosen:
        began = time.perf_counter()
        rows = connection.execute(
            "SELECT rowid FROM v WHERE e MATCH ? AND k = 11", (points[n].tobytes(),)
        ).fetchall()
        timings.append((time.perf_counter() - began) * 1000)
        found = [int(str(row[0])) - 1 for row in rows if int(str(row[0])) - 1 != n][:10]
        recalls.append(len(set(found) & exact(points, n)) / 10)
    connection.close()
    return sorted(timings), float(np.mean(recalls)), inserted


def ivf_run(
    points: np.ndarray[Any, Any], chosen: list[int], folder: Path
) -> tuple[list[float], float, float]:
    """Timings (ms) and recall@10 of the IVF's lookups (private scope), and the upkeep time (s)."""
    owner = uuid.UUID(int=15, version=4)
    with opened("sqlite", folder) as container:
        ids = populate(container, owner, points)
        began = time.perf_counter()
        container.vector_upkeep.run()
        trained = time.perf_counter() - began
        settle(container)
        index = container.vector_upkeep.index
        position = {image_id: n for n, image_id in enumerate(ids)}
        timings, recalls = [], []
        with container.database.transaction(write=False) as session:
            index.nearest(session, ids[chosen[0]], owner, 10)  # warm-up
            for n in chosen:
                began = time.perf_counter()
                found = index.nearest(session, ids[n], owner, 10)
                timings.append((time.perf_counter() - began) * 1000)
                got = {position[f.image_id] for f in found}
                recalls.append(len(got & exact(points, n)) / 10)
    return sorted(timings), float(np.mean(recalls)), trained


def main() -> None:
    count = option("--images", 5_000 if quick() else 100_000)
    lookups = option("--lookups", 30 if quick() else 100)
    points = vectors(count)
    chosen = random.Random(15).sample(range(count), lookups)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-vec-") as folder:
        vec = sqlite_vec_run(points, chosen, Path(folder))
        ivf = ivf_run(points, chosen, Path(folder) / "ivf")
    version = sqlite_vec.__version__
    for name, (timings, recall, seconds), what in (
        (f"sqlite-vec {version} vec0 (full scan)", vec, "insert"),
        ("Bit-image IVF (search/vectors_ivf.py)", ivf, "upkeep pass"),
    ):
        p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
        rows.append((f"{name}: p50 / p99 over {len(timings)}", f"{p50:.1f} / {p99:.1f} ms"))
        rows.append((f"{name}: recall@10", f"{recall:.3f}"))
        rows.append((f"{name}: {what}", f"{seconds:.1f} s"))
    ratio = percentile(vec[0], 0.99) / percentile(ivf[0], 0.99)
    rows.append(("sqlite-vec p99 / IVF p99", f"{ratio:.1f}x"))
    print(f"{count:,} clustered 1280-d unit vectors, 10 nearest of a stored one, index call only")
    print(table(rows, ("what", "figure")))


if __name__ == "__main__":
    main()
