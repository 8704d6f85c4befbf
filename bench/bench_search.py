"""Search latency on SQLite: p50/p99 of name and tag queries (limit 100) over one user's images.

100,000 images by default (--quick: 5,000), names of two words from a 2,000-word vocabulary
plus a number, 1 to 4 tags from 500. Baseline, same run: the unfiltered newest-first page.
Target: p99 under 50 ms.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

from bitimage.bootstrap import Container, bootstrap
from bitimage.config import load_settings
from bitimage.db.base import utcnow
from bitimage.db.migrate import upgrade
from bitimage.images.models import Image
from bitimage.search.ports import SearchQuery
from bitimage.users.models import User

rng = random.Random(7)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def word(low: int, high: int) -> str:
    """A random lower-case word."""
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(low, high)))


def populate(container: Container, count: int, words: list[str], tag_words: list[str]) -> uuid.UUID:
    """One user with `count` indexed images."""
    owner = uuid.uuid4()
    now = utcnow()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=count))
        session.flush()
        rows, texts = [], []
        for n in range(count):
            image_id = uuid.uuid4()
            name = f"{rng.choice(words)} {rng.choice(words)} {n}"
            tags = sorted({rng.choice(tag_words) for _ in range(rng.randint(1, 4))})
            rows.append(
                {
                    "id": image_id, "user_id": owner, "name": name, "hash": "0" * 32,
                    "size_bytes": 1, "file_format": "jpeg", "width": 1, "height": 1,
                    "is_private": True, "storage_key": f"users/{owner}/{image_id}",
                    "analysis_status": "pending", "created_at": now + timedelta(microseconds=n),
                }
            )  # fmt: skip
            texts.append((image_id, name, tags))
        session.execute(insert(Image), rows)
        for image_id, name, tags in texts:
            container.search_index.index(session, image_id, name, tags, [])
    return owner


def typo(text: str) -> str:
    """The word with one letter changed."""
    at = rng.randrange(len(text))
    return text[:at] + ("x" if text[at] != "x" else "y") + text[at + 1 :]


def main() -> None:
    count = 5_000 if "--quick" in sys.argv else 100_000
    words = [word(4, 9) for _ in range(2000)]
    tag_words = [word(3, 8) for _ in range(500)]
    container = bootstrap(load_settings(data_dir=Path(tempfile.mkdtemp())))
    upgrade(container.database.engine)
    start = time.perf_counter()
    owner = populate(container, count, words, tag_words)
    print(f"{count:,} images of one user indexed in {time.perf_counter() - start:.1f} s")
    kinds: dict[str, Callable[[], dict[str, str]]] = {
        "unfiltered (baseline)": dict,
        "name: a whole word": lambda: {"name": rng.choice(words)},
        "name: a substring": lambda: {"name": rng.choice(words)[1:4]},
        "name: one typo": lambda: {"name": typo(rng.choice(words))},
        "tag: a whole tag": lambda: {"tag": rng.choice(tag_words)},
        "tag: one typo": lambda: {"tag": typo(rng.choice(tag_words))},
    }
    baseline = 0.0
    for kind, make in kinds.items():
        times = []
        for _ in range(200):
            query = SearchQuery(owner_id=owner, limit=100, **make())
            with container.database.transaction(write=False) as session:
                began = time.perf_counter()
                container.search.summaries(session, query)
                times.append((time.perf_counter() - began) * 1000)
        times.sort()
        p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
        baseline = baseline or p50
        print(
            f"{kind:24s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  p50/baseline {p50 / baseline:4.1f}"
        )
    container.close()


if __name__ == "__main__":
    main()
