"""Search latency at a million images and a hundred users, on SQLite and PostgreSQL (issue 17).

Builds each database in-process (no HTTP) at N images over U users (default 1,000,000 / 100:
10,000 each, 40% public), with 10,000 tags (0-5 an image, Zipf), about 6 content labels an
image shaped like the analysers' output (ImageNet classes and their categories from the
classifier's vocabulary, colours, faces; confidences and analyser/model as stored), OCR text
on 5%, camera and word file names, seven years of creation times, a few images flagged by
moderation (bench/_search_data.py). Rows go in through a bulk path (Core executemany on SQLite,
COPY on PostgreSQL; search rows through the project's own SearchIndex.index), first checked
equal, row for row, to rows the service's own code writes for 300 photos (upload confirm, then
AnalysisService.save): any difference stops the run (bench/_search_check.py).

Then p50 / p99 (ms, limit 100) of `container.search.summaries`, the call both summary routes
make, per kind of query, private (one user's images) and public (everyone's public ones):
unfiltered newest first (the same-run baseline), name word / exact / one typo, tag exact /
one typo, content_label exact / one typo, text word, tag + content_label, and pages 2-3 of
content_label `animal` and of the most common tag. Terms come from the generated data, 50 per
kind, Zipf-weighted. Each kind runs --queries times per scope (default 100) or until --budget
seconds (default 30) have gone, whichever is first, and never fewer than 3: `n` says how many.
On SQLite it also measures one user with 100,000 images (--single-user N; 0 skips it;
--database none runs that part alone; --owner-scan N sets SQLite's private crossover: 0 puts
every owner through FTS5, to compare the plans).

Targets (issue 17): PostgreSQL at 1M / 100 users, every filtered kind p99 < 30 ms private and
< 50 ms public, unfiltered < 15 ms; SQLite at 1M / 100 users p99 < 50 ms private; SQLite with
one user of 100,000 images, p99 < 30 ms.

Run: python -m bench.bench_search [--quick] [--images N] [--users U] [--database sqlite|
postgresql|both|none] [--queries N] [--budget S] [--single-user N] [--json FILE]
--quick: 20,000 images (single user 5,000), 10 queries a kind, 100 photos checked.
PostgreSQL databases are made as bitimage_bench_<random> on BITIMAGE_BENCH_POSTGRES_URL
(default the local server) and dropped at the end (`--keep`: kept, to be measured again with
`--reuse NAME [--kinds word,word] [--scopes private|public]`; SQLite: `--sqlite-dir DIR`, kept
there and measured again when run with it again: bench/_search_keep.py). A full
run takes about an hour (population ~10-15 minutes a database).
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from bitimage.bootstrap import Container
from bitimage.cli.starting import settle_heap

try:
    from bench._common import bench_container, option, percentile, quick, text_option
    from bench._search_bulk import USERS, read_ids, user_rows, write_photos, write_vocabulary
    from bench._search_check import check_bulk_path, with_real_bytes
    from bench._search_data import START, PhotoMaker, Vocabulary
    from bench._search_keep import (
        crossover,
        folder_for,
        has_samples,
        keep,
        kinds_wanted,
        load_samples,
        reused,
        save_samples,
        scopes_wanted,
        sqlite_dir,
    )
    from bench._search_queries import LIMIT, UNFILTERED, Kinds, Samples, run_kind, timed
    from bench._search_report import Results, figures, reclaim_note, report, verdict
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        bench_container,
        option,
        percentile,
        quick,
        text_option,
    )
    from _search_bulk import (  # type: ignore[import-not-found,no-redef]
        USERS,
        read_ids,
        user_rows,
        write_photos,
        write_vocabulary,
    )
    from _search_check import (  # type: ignore[import-not-found,no-redef]
        check_bulk_path,
        with_real_bytes,
    )
    from _search_data import START, PhotoMaker, Vocabulary  # type: ignore[import-not-found,no-redef]
    from _search_keep import (  # type: ignore[import-not-found,no-redef]
        crossover,
        folder_for,
        has_samples,
        keep,
        kinds_wanted,
        load_samples,
        reused,
        save_samples,
        scopes_wanted,
        sqlite_dir,
    )
    from _search_queries import (  # type: ignore[import-not-found,no-redef]
        LIMIT,
        UNFILTERED,
        Kinds,
        Samples,
        run_kind,
        timed,
    )
    from _search_report import (  # type: ignore[import-not-found,no-redef]
        Results,
        figures,
        reclaim_note,
        report,
        verdict,
    )

SEED = 17
CHUNK = 20_000  # photos a transaction while populating
CHECKED = 100 if quick() else 300  # photos written both ways and compared
SAMPLES = 5_000  # photos kept for drawing query terms
PAGING_OWNERS = 5  # private cursor pages: owners whose cursors are fetched (untimed)


@dataclass(frozen=True)
class Built:
    """What populating a database took."""

    seconds: float
    check_seconds: float
    compared_rows: int
    samples: Samples


def opened(database: str, folder: Path, name: str = "") -> AbstractContextManager[Container]:
    """A migrated container on a fresh database (PostgreSQL: made here, dropped after unless
    --keep), or on the kept PostgreSQL database `name`."""
    return bench_container(database, folder, name, keep())


def progress(message: str) -> None:
    """A line on stderr, for whoever watches a long run."""
    print(message, file=sys.stderr, flush=True)


def populate(container: Container, users: list[uuid.UUID], per_user: int) -> Built:
    """Users, tags and labels; the equality check; then every photo through the bulk path."""
    database, index = container.database, container.search_index
    threshold = container.settings.moderation_threshold
    vocabulary = Vocabulary(SEED)
    maker = PhotoMaker(vocabulary, SEED + 1)
    with database.transaction() as session:
        session.execute(USERS.insert(), user_rows(dict.fromkeys(users, per_user), START))
        write_vocabulary(
            session,
            {name: maker.new_id() for name in vocabulary.tag_names()},
            {name: maker.new_id() for name in vocabulary.label_names()},
        )
    with database.transaction(write=False) as session:
        ids = read_ids(session)
    began = time.perf_counter()
    checked = [maker.photo(users[n % len(users)]) for n in range(CHECKED)]
    compared = check_bulk_path(container, checked, with_real_bytes(checked, SEED), ids)
    check_seconds = time.perf_counter() - began
    progress(f"{database.dialect}: bulk rows equal to the service's ({compared} rows compared)")
    total = len(users) * per_user
    samples = Samples(every=max(1, total // SAMPLES))
    began = time.perf_counter()
    batch = []
    for photo in maker.photos(users, per_user):
        samples.add(photo, photo.explicit >= threshold)
        batch.append(photo)
        if len(batch) == CHUNK:
            with database.transaction() as session:
                write_photos(session, index, batch, ids, threshold)
            batch = []
            if samples.seen % 100_000 == 0:
                rate = samples.seen / (time.perf_counter() - began)
                progress(f"{database.dialect}: {samples.seen:,} images ({rate:,.0f}/s)")
    with database.transaction() as session:
        write_photos(session, index, batch, ids, threshold)
    if database.dialect == "postgresql":  # what autovacuum would soon do: fresh statistics
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    container.statistics.run()  # SQLite: what the worker's periodic pass does after a bulk load
    return Built(time.perf_counter() - began, check_seconds, compared, samples)


def measure(
    container: Container, built: Built, users: list[uuid.UUID], runs: int, budget: float,
    scopes: tuple[str, ...] = ("private", "public"),
) -> Results:  # fmt: skip
    """Every kind in every scope."""

    def next_cursor(query: object) -> str | None:
        return timed(container, query)[2]  # type: ignore[arg-type]

    kinds = Kinds(built.samples.kept, SEED + 2, next_cursor)
    settle_heap()  # what `bitimage serve` and each of its processes do once started
    owners: dict[str, list[uuid.UUID | None]] = {"private": list(users), "public": [None]}
    random.Random(SEED).shuffle(owners["private"])
    results: Results = {}
    for scope in scopes:
        results[scope] = {}
        wanted = kinds_wanted()
        for kind, make in kinds.kinds().items():
            if wanted and kind != UNFILTERED and not any(word in kind for word in wanted):
                continue  # --kinds: the unfiltered baseline is always timed
            who = owners[scope][:PAGING_OWNERS] if kind.startswith("pages") else owners[scope]
            found = run_kind(container, make, who, runs, budget)
            results[scope][kind] = found
            p99 = percentile(sorted(found.times), 0.99) if found.times else 0.0
            n, dialect = len(found.times), container.database.dialect
            progress(f"{dialect} {scope} {kind}: n={n} p99={p99:.1f} ms")
    return results


def user_ids(count: int, seed: int = 0) -> list[uuid.UUID]:
    """`count` seeded user ids."""
    return [
        uuid.UUID(int=random.Random(seed + n).getrandbits(128), version=4) for n in range(count)
    ]


def run_database(
    database: str, users: int, per_user: int, runs: int, budget: float
) -> tuple[str, Results, float]:
    """Build one database, measure every kind: the printed section, the figures, the build time."""
    with (
        folder_for("many") as folder,
        opened(database, folder, reused() if database == "postgresql" else "") as container,
    ):
        owners = user_ids(users)
        kept = str(folder) if sqlite_dir("many") is not None and database == "sqlite" else ""
        if reused() and database == "postgresql":
            built = Built(0.0, 0.0, 0, load_samples(reused()))
        elif kept and has_samples(kept):
            built = Built(0.0, 0.0, 0, load_samples(kept))
        else:
            built = populate(container, owners, per_user)
        if keep() and database == "postgresql":
            save_samples(str(container.database.engine.url.database), built.samples)
        if kept:
            save_samples(kept, built.samples)
        crossover(container)
        results = measure(container, built, owners, runs, budget, scopes_wanted())
    title = (
        f"{database}: {per_user * users:,} images over {users} users, populated in "
        f"{built.seconds:.0f} s (equality check of {CHECKED} photos: {built.compared_rows} "
        f"rows equal, {built.check_seconds:.0f} s)"
    )
    lines = [report(title, results)]
    if database == "postgresql":
        limits = {"private": 30, "public": 50}
        lines += [verdict("postgresql", results, s, limits[s], False) for s in results]
        lines += [verdict("postgresql", results, s, 15, True) for s in results]
    else:
        lines += [verdict("sqlite", results, "private", 50, False)] if "private" in results else []
    return "\n".join(lines), results, built.seconds


def run_single_user(images: int, runs: int, budget: float) -> tuple[str, Results, float]:
    """SQLite with one user holding every image, private scope."""
    with folder_for("one") as folder, opened("sqlite", folder) as container:
        owner = user_ids(1, seed=-1)
        kept = str(folder) if sqlite_dir("one") is not None else ""
        if kept and has_samples(kept):
            built = Built(0.0, 0.0, 0, load_samples(kept))
        else:
            built = populate(container, owner, images)
        if kept:
            save_samples(kept, built.samples)
        crossover(container)
        results = measure(container, built, owner, runs, budget, ("private",))
    title = f"sqlite: one user with {images:,} images, populated in {built.seconds:.0f} s"
    lines = [report(title, results), verdict("sqlite one user", results, "private", 30, False)]
    return "\n".join(lines), results, built.seconds


def main() -> None:
    images = option("--images", 20_000 if quick() else 1_000_000)
    users = option("--users", 100)
    runs = option("--queries", 10 if quick() else 100)
    budget = float(option("--budget", 30))
    single = option("--single-user", 5_000 if quick() else 100_000)
    chosen = text_option("--database", "both")
    databases = {"both": ["sqlite", "postgresql"], "none": []}.get(chosen, [chosen])
    per_user = images // users
    out: dict[str, object] = {"images": per_user * users, "users": users}
    sections, population = [], {}
    for database in databases:
        section, results, seconds = run_database(database, users, per_user, runs, budget)
        sections.append(section)
        out[database], population[database] = figures(results), round(seconds, 1)
    if single and chosen != "postgresql":
        section, results, seconds = run_single_user(single, runs, budget)
        sections.append(section)
        out["sqlite_one_user"], population["sqlite_one_user"] = figures(results), round(seconds, 1)
    out["population_s"] = population
    print(reclaim_note(), end="")
    print(f"limit {LIMIT}, through container.search.summaries; hits: mean page size\n")
    print("\n\n".join(sections))
    json_file = text_option("--json", "")
    if json_file:
        Path(json_file).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
