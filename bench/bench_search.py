"""Search latency on SQLite: p50/p99 of name and tag queries (limit 100) over one user's images.

100,000 images by default (--quick: 5,000; --images N), built in-process (no HTTP): names of
two words from a 2,000-word vocabulary plus a number, 1 to 4 tags from 500 tag words, indexed
through container.search_index. Queries go through container.search.summaries (the index plus
loading and signing the page), as the API does.
Baseline, same run: the unfiltered newest-first page. Target: p99 under 50 ms.
Run: python bench/bench_search.py [--quick]
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from bitimage.bootstrap import Container, bootstrap
from bitimage.config import load_settings
from bitimage.db.base import utcnow
from bitimage.db.migrate import upgrade
from bitimage.images.models import Image, ImageTag, Tag
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.users.models import User

try:
    from bench._common import option, percentile, quick, table
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _common import option, percentile, quick, table  # type: ignore[import-not-found,no-redef]

rng = random.Random(7)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CHUNK = 5_000  # images per transaction while populating


def vocabulary(size: int, low: int, high: int) -> list[str]:
    """`size` distinct random lower-case words of `low` to `high` letters."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(LETTERS) for _ in range(rng.randint(low, high))))
    return sorted(words)


def populate(container: Container, count: int, words: list[str], tag_words: list[str]) -> uuid.UUID:
    """One user with `count` images, their tags, and their rows in the search index."""
    owner = uuid.uuid4()
    now = utcnow() - timedelta(seconds=count)
    tag_ids = {name: uuid.uuid4() for name in tag_words}
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=count))
        session.flush()
        session.execute(insert(Tag), [{"id": i, "name": n} for n, i in tag_ids.items()])
    for first in range(0, count, CHUNK):
        rows, links, texts = [], [], []
        for n in range(first, min(first + CHUNK, count)):
            image_id = uuid.uuid4()
            name = f"{rng.choice(words)} {rng.choice(words)} {n}"
            tags = sorted({rng.choice(tag_words) for _ in range(rng.randint(1, 4))})
            rows.append(
                {
                    "id": image_id, "user_id": owner, "name": name, "hash": f"{n:032x}",
                    "size_bytes": 1, "file_format": "jpeg", "width": 1, "height": 1,
                    "is_private": True, "storage_key": f"users/{owner}/{image_id}",
                    "analysis_status": "done", "created_at": now + timedelta(milliseconds=n),
                }
            )  # fmt: skip
            links += [{"image_id": image_id, "tag_id": tag_ids[t]} for t in tags]
            texts.append((image_id, name, tags))
        with container.database.transaction() as session:
            session.execute(insert(Image), rows)
            session.execute(insert(ImageTag), links)
            container.search_index.index(
                session, [SearchEntry(image_id, name, tags) for image_id, name, tags in texts]
            )
    return owner


def typo(word: str) -> str:
    """The word with one letter changed."""
    at = rng.randrange(len(word))
    return word[:at] + rng.choice([c for c in LETTERS if c != word[at]]) + word[at + 1 :]


def main() -> None:
    count = option("--images", 5_000 if quick() else 100_000)
    runs = option("--queries", 40 if quick() else 200)
    words = vocabulary(2000, 4, 9)
    tag_words = vocabulary(500, 3, 8)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        container = bootstrap(load_settings(data_dir=Path(folder), argon2_memory_kib=8192))
        try:
            upgrade(container.database.engine)
            start = time.perf_counter()
            owner = populate(container, count, words, tag_words)
            built = time.perf_counter() - start
            every = SearchQuery(owner_id=owner, limit=100)
            kinds: dict[str, Callable[[], SearchQuery]] = {
                "unfiltered newest first (baseline)": lambda: every,
                "name: exact word": lambda: replace(every, name=rng.choice(words)),
                "name: substring (3 letters)": lambda: replace(every, name=rng.choice(words)[1:4]),
                "name: one typo": lambda: replace(every, name=typo(rng.choice(words))),
                "tag: exact tag": lambda: replace(every, tag=rng.choice(tag_words)),
                "tag: one typo": lambda: replace(every, tag=typo(rng.choice(tag_words))),
            }
            results: dict[str, tuple[float, float, float]] = {}
            for kind, make in kinds.items():
                times, hits = [], 0
                for n in range(runs + 5):  # the first 5 warm caches and are not counted
                    query = make()
                    with container.database.transaction(write=False) as session:
                        began = time.perf_counter()
                        page = container.search.summaries(session, query)
                        elapsed = (time.perf_counter() - began) * 1000
                    if n >= 5:
                        times.append(elapsed)
                        hits += len(page.images)
                times.sort()
                results[kind] = (percentile(times, 0.5), percentile(times, 0.99), hits / runs)
        finally:
            container.close()
    print(f"{count:,} images of one user built and indexed in {built:.1f} s (not timed below)")
    print(f"{runs} queries per kind, limit 100, through SearchService.summaries")
    base50, base99, _ = next(iter(results.values()))
    rows = [
        (
            kind,
            f"{p50:.2f}",
            f"{p99:.2f}",
            f"{p50 / base50:.1f}",
            f"{p99 / base99:.1f}",
            f"{mean_hits:.0f}",
        )
        for kind, (p50, p99, mean_hits) in results.items()
    ]
    print(table(rows, ("query", "p50 ms", "p99 ms", "p50 ratio", "p99 ratio", "mean hits")))
    worst = max(p99 for p99 in (r[1] for r in results.values()))
    print(f"target: p99 < 50 ms for every kind -> {'met' if worst < 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
