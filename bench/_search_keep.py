"""bench_search.py on a kept PostgreSQL database: build it once, then measure it many times.

`--keep` leaves the populated database in place (its name printed) and writes the photos kept
for drawing query terms next to it, as JSON (`<tmp>/<name>.samples.json`); `--reuse NAME`
measures that database again without populating it (migrations still run: a new index
reaches it). `--kinds a,b` times only the kinds whose names contain one of the words, and
`--scopes private|public` one scope. A kept database is dropped by hand:
`psql -h 127.0.0.1 -U postgres -c 'drop database NAME'`.

On SQLite `--sqlite-dir DIR` does the same: the databases live in DIR/many and DIR/one (the
single user's) instead of a temporary folder, with their samples beside them; a folder that
already holds samples is measured again, not populated. Delete DIR by hand when done.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from bitimage.bootstrap import Container
from bitimage.search.sqlite import SqliteSearchIndex

try:
    from bench._common import option, text_option
    from bench._search_queries import Sample, Samples
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _common import option, text_option  # type: ignore[import-not-found,no-redef]
    from _search_queries import Sample, Samples  # type: ignore[import-not-found,no-redef]


def keep() -> bool:
    """True when the PostgreSQL database is to be kept after the run."""
    return "--keep" in sys.argv[1:]


def reused() -> str:
    """The kept database to measure again ('' to build a new one)."""
    return text_option("--reuse", "")


def kinds_wanted() -> list[str]:
    """Words naming the kinds to time (every kind when empty)."""
    return [word for word in text_option("--kinds", "").split(",") if word]


def scopes_wanted() -> tuple[str, ...]:
    """The scopes to time."""
    chosen = text_option("--scopes", "")
    return (chosen,) if chosen else ("private", "public")


def sqlite_dir(part: str) -> Path | None:
    """The kept SQLite folder for `part` (many, one), made if missing; None: a temporary one."""
    chosen = text_option("--sqlite-dir", "")
    if not chosen:
        return None
    folder = Path(chosen) / part
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _file(name: str) -> Path:
    if name.startswith("/"):  # a kept SQLite folder
        return Path(name) / "samples.json"
    return Path(tempfile.gettempdir()) / f"{name}.samples.json"


def has_samples(name: str) -> bool:
    """True when database (or SQLite folder) `name` was populated and its samples saved."""
    return _file(name).exists()


def save_samples(name: str, samples: Samples) -> Path:
    """Write the kept photos of database (or SQLite folder) `name` for a later --reuse."""
    rows = [{**asdict(s), "user_id": s.user_id.hex} for s in samples.kept]
    path = _file(name)
    path.write_text(json.dumps({"every": samples.every, "seen": samples.seen, "kept": rows}))
    return path


def load_samples(name: str) -> Samples:
    """The kept photos written by save_samples for database `name`."""
    raw = json.loads(_file(name).read_text())
    kept = [
        Sample(
            uuid.UUID(hex=row["user_id"]),
            row["name"],
            row["public"],
            tuple(row["tags"]),
            tuple(row["labels"]),
            row["text"],
        )
        for row in raw["kept"]
    ]
    return Samples(every=raw["every"], kept=kept, seen=raw["seen"])


@contextmanager
def folder_for(part: str) -> Iterator[Path]:
    """The kept SQLite folder (--sqlite-dir) or a temporary one."""
    kept = sqlite_dir(part)
    if kept is not None:
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        yield Path(folder)


def crossover(container: Container) -> None:
    """--owner-scan N: SQLite's private crossover (owners above N images go through FTS5)."""
    index = container.search_index
    if "--owner-scan" in sys.argv[1:] and isinstance(index, SqliteSearchIndex):
        index.owner_scan = option("--owner-scan", index.owner_scan)
