"""Planner statistics on SQLite: ANALYZE of the tables search reads, when they are missing or stale.

Without sqlite_stat1 SQLite's planner guesses every index equally selective: tag + label
searches drove from the owner's 50,000 label postings (357 ms, bench_search); with statistics
the same query took 37 ms at 1,000,000 images. SQLite never gathers them by itself, so they are
gathered after a migration and by a periodic pass where the sweeper runs: when there are none,
or the images table has grown or shrunk twofold since the last analysis. PostgreSQL's
autovacuum analyses its tables; there this does nothing.

Each table is analysed in a transaction of its own, so writers wait for one table at most
(the longest, image_content_labels, took 7 s at 1,000,000 images: bench/README.md). ANALYZE
changes the schema cookie, so every connection, in any process, plans with the new figures
from its next statement.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from bitimage.db.session import Database

log = logging.getLogger("bitimage.db")

# The tables search reads (image_search_words exists only on PostgreSQL; FTS5 tables and
# their shadows are not analysed: the FTS module plans its own queries).
SEARCH_TABLES = (
    "images",
    "image_tags",
    "image_content_labels",
    "image_search_rows",
    "tags",
    "content_labels",
    "image_search_words",
)
GROWTH = 2  # analyse again once the images have grown (or shrunk) by this factor


@dataclass(frozen=True)
class StatisticsReport:
    """What one pass found and did: the images counted then and at the last analysis."""

    images: int
    recorded: int | None
    seconds: dict[str, float] = field(default_factory=dict)  # per table analysed

    @property
    def analysed(self) -> bool:
        """Whether this pass ran ANALYZE."""
        return bool(self.seconds)


def due(images: int, recorded: int | None) -> bool:
    """Whether to analyse: no statistics of the images yet, or a twofold change since.

    An empty library is not analysed (there is nothing to plan, and a pass every few minutes
    would find it so again): its first images are.
    """
    if recorded is None:
        return images > 0
    now, then = max(images, 1), max(recorded, 1)
    return now >= GROWTH * then or then >= GROWTH * now


def recorded_images(connection: Connection) -> int | None:
    """The images' row count sqlite_stat1 holds (None: never analysed, or empty then)."""
    has_table = connection.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'")
    ).first()
    if has_table is None:
        return None
    # An index's first figure is its entry count: the table's rows, but fewer for a partial one.
    stats = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'images'"))
    counts = [int(stat.split(" ", 1)[0]) for (stat,) in stats if stat]
    return max(counts) if counts else None


class PlannerStatistics:
    """Keeps SQLite's sqlite_stat1 current for the tables search reads."""

    def __init__(self, database: Database, tables: tuple[str, ...] = SEARCH_TABLES) -> None:
        self.database = database
        self.tables = tables

    def run(self, force: bool = False) -> StatisticsReport | None:
        """Analyse the search tables if due (or `force`); None on PostgreSQL."""
        if self.database.dialect != "sqlite":
            return None
        with self.database.engine.connect() as connection:
            images = connection.execute(text("SELECT count(*) FROM images")).scalar_one()
            recorded = recorded_images(connection)
            present = {
                name
                for (name,) in connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table'")
                )
            }
            connection.rollback()
        if not force and not due(images, recorded):
            return StatisticsReport(images, recorded)
        # Two passes at once (two workers) both analyse: the figures are the same, only the
        # work is repeated, and each table's ANALYZE holds the write lock alone.
        seconds: dict[str, float] = {}
        for table in self.tables:
            if table not in present:
                continue
            started = time.perf_counter()
            with self.database.transaction() as session:
                session.execute(text(f"ANALYZE {table}"))  # a fixed name of SEARCH_TABLES
            seconds[table] = time.perf_counter() - started
        log.info(
            "planner statistics gathered over %d images (%s)",
            images,
            ", ".join(f"{table} {spent:.2f} s" for table, spent in seconds.items()),
        )
        return StatisticsReport(images, recorded, seconds)
