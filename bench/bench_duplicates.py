"""Issue 15, point 3a: near duplicates by dHash. Calibration, then scale on SQLite and PostgreSQL.

Calibration: scikit-image's sample photos (upscaled to 1024 px) through the worker's decode and
MetadataAnalyser's dHash, against edited copies of each (half size, JPEG q40, +20% brightness,
+30% contrast, crops of 3%, 5% and 10% a side) and against each other: the Hamming distances,
and how many of each edit the default BITIMAGE_NEAR_DUPLICATE_DISTANCE takes.
Scale: one user with N images (10,000; --images N) in a fresh database of each kind (PostgreSQL:
made here, dropped after), random 64-bit hashes with 10% planted copies (1 to 8 bits flipped
from an original), written through the Core bulk path. Timed: DuplicateService.groups (every
near-duplicate group of the library: the read, the chunked numpy all-pairs scan, the first page
of summaries), and p50/p99 of DuplicateService.similar (band lookup by index, then the exact
distance) over 200 images; planted pairs found by groups are counted (recall of the grouping).
Options: --quick (2,000 images, 50 lookups); --database sqlite|postgresql|both.
Run: python -m bench.bench_duplicates [--quick]
"""

from __future__ import annotations

import io
import itertools
import random
import tempfile
import time
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image, ImageEnhance
from skimage import data
from sqlalchemy import Table, text

from bitimage.analysis.decode import decode
from bitimage.bootstrap import Container
from bitimage.config import Settings
from bitimage.dhash import dhash
from bitimage.images.duplicate_repository import DuplicateRepository
from bitimage.images.duplicate_schemas import DuplicatesQuery, SimilarQuery
from bitimage.images.duplicates import library_groups
from bitimage.images.models import Image as ImageRow
from bitimage.images.perceptual import bands_of
from bitimage.users.models import User

try:
    from bench._common import bench_container, option, percentile, quick, table, text_option
except ModuleNotFoundError:  # run as `python bench/bench_duplicates.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        bench_container,
        option,
        percentile,
        quick,
        table,
        text_option,
    )

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "camera", "grass",
          "gravel", "brick", "moon", "immunohistochemistry", "horse", "coins", "clock", "text",
          "page", "logo", "retina")  # fmt: skip
IMAGES, USERS = cast(Table, ImageRow.__table__), cast(Table, User.__table__)
START = datetime(2020, 1, 1, tzinfo=UTC)


def _decoded_hash(image: Image.Image, quality: int = 90) -> int:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return int(dhash(decode(io.BytesIO(out.getvalue()), 100_000_000).pixels), 16)


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = int(w * fraction), int(h * fraction)
    return image.crop((dx, dy, w - dx, h - dy))


def calibrate(reach: int) -> None:
    """Distances of edited copies and of different photos; what `reach` takes of each."""
    edits: dict[str, list[int]] = {}
    originals: dict[str, int] = {}
    for name in PHOTOS:
        pixels: np.ndarray[Any, Any] = getattr(data, name)()
        image = Image.fromarray(pixels).convert("RGB")
        scale = 1024 / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
        base = originals[name] = _decoded_hash(image)
        copies = {
            "half size": _decoded_hash(image.resize((image.width // 2, image.height // 2))),
            "JPEG q40": _decoded_hash(image, 40),
            "brightness +20%": _decoded_hash(ImageEnhance.Brightness(image).enhance(1.2)),
            "contrast +30%": _decoded_hash(ImageEnhance.Contrast(image).enhance(1.3)),
            "crop 3% a side": _decoded_hash(_crop(image, 0.03)),
            "crop 5% a side": _decoded_hash(_crop(image, 0.05)),
            "crop 10% a side": _decoded_hash(_crop(image, 0.10)),
        }
        for edit, value in copies.items():
            edits.setdefault(edit, []).append((base ^ value).bit_count())
    rows = [
        (edit, str(min(gaps)), f"{np.median(gaps):.0f}", str(max(gaps)),
         f"{sum(g <= reach for g in gaps)}/{len(gaps)}")
        for edit, gaps in edits.items()
    ]  # fmt: skip
    pairs = [
        (originals[a] ^ originals[b]).bit_count() for a, b in itertools.combinations(originals, 2)
    ]
    rows.append(
        (f"different photos ({len(pairs)} pairs)", str(min(pairs)), f"{np.median(pairs):.0f}",
         str(max(pairs)), f"{sum(g <= reach for g in pairs)}/{len(pairs)}")
    )  # fmt: skip
    print(f"calibration: {len(originals)} scikit-image photos, dHash distance of 64 bits")
    print(table(rows, ("pair", "min", "median", "max", f"within {reach}")))


def opened(database: str, folder: Path) -> AbstractContextManager[Container]:
    """A migrated container on a fresh database (PostgreSQL: made here, dropped after)."""
    return bench_container(database, folder)


def library(count: int, rng: random.Random) -> tuple[list[int], set[tuple[int, int]]]:
    """`count` hashes, 10% copies (1-8 bits flipped) of an earlier one; the planted pairs."""
    hashes: list[int] = []
    planted: set[tuple[int, int]] = set()
    for n in range(count):
        if n > 10 and rng.random() < 0.1:
            source = rng.randrange(n)
            value = hashes[source]
            for bit in rng.sample(range(64), rng.randint(1, 8)):
                value ^= 1 << bit
            planted.add((source, n))
        else:
            value = rng.getrandbits(64)
        hashes.append(value)
    return hashes, planted


def populate(container: Container, owner: uuid.UUID, hashes: list[int]) -> list[uuid.UUID]:
    """One user and an image row per hash (bands set, renditions made); the ids, oldest first."""
    ids = [uuid.UUID(int=random.Random(n).getrandbits(128), version=4) for n in range(len(hashes))]
    rows = []
    for n, (image_id, value) in enumerate(zip(ids, hashes, strict=True)):
        b0, b1, b2, b3 = bands_of(f"{value:016x}")
        rows.append({
            "id": image_id, "user_id": owner, "name": f"photo {n}", "hash": f"{n:032x}",
            "size_bytes": 1000, "file_format": "jpeg", "width": 64, "height": 48,
            "is_private": True, "storage_key": f"images/{owner}/{image_id}",
            "analysis_status": "done", "moderation": "none", "public_copy": False,
            "created_at": START + timedelta(seconds=n), "rendered_at": START, "placeholder": "x",
            "dhash0": b0, "dhash1": b1, "dhash2": b2, "dhash3": b3,
        })  # fmt: skip
    with container.database.transaction() as session:
        user = {"id": owner, "image_upload_count": len(hashes), "image_upload_limit": None}
        session.execute(USERS.insert(), [{**user, "created_at": START}])
        for at in range(0, len(rows), 5000):
            session.execute(IMAGES.insert(), rows[at : at + 5000])
    if container.database.dialect == "postgresql":
        with container.database.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as conn:
            conn.execute(text("VACUUM ANALYZE images"))
    return ids


def scale(database: str, count: int, lookups: int) -> list[tuple[str, str]]:
    """Populate, then time groups and similar; rows of the report."""
    rng = random.Random(15)
    hashes, planted = library(count, rng)
    owner = uuid.UUID(int=15, version=4)
    with (
        tempfile.TemporaryDirectory(prefix="bench-dupes-") as folder,
        opened(database, Path(folder)) as container,
    ):
        began = time.perf_counter()
        ids = populate(container, owner, hashes)
        populated = time.perf_counter() - began
        service = container.duplicates
        reach = container.settings.near_duplicate_distance
        index = {image_id: n for n, image_id in enumerate(ids)}
        with container.database.transaction(write=False) as session:
            service.groups(session, owner, DuplicatesQuery())  # warm-up
            began = time.perf_counter()
            page = service.groups(session, owner, DuplicatesQuery(per_page=100))
            grouped = time.perf_counter() - began
        with container.database.transaction(write=False) as session:
            began = time.perf_counter()
            rows = DuplicateRepository(session).library(owner)
            read = time.perf_counter() - began
        began = time.perf_counter()
        groups = library_groups(rows, reach)
        scanned = time.perf_counter() - began
        members = [[index[rows[i].id] for i in group] for group in groups]
        together = {(a, b) for group in members for a in group for b in group if a < b}
        found = sum(pair in together for pair in planted)
        timings = []
        with container.database.transaction(write=False) as session:
            for image_id in rng.sample(ids, lookups):
                began = time.perf_counter()
                service.similar(session, owner, image_id, SimilarQuery())
                timings.append((time.perf_counter() - began) * 1000)
        timings.sort()
    return [
        (f"{database}: populate {count:,} images (bulk insert)", f"{populated:.2f} s"),
        (f"{database}: all near-duplicate groups (groups(), reach {reach})", f"{grouped:.2f} s"),
        (f"{database}: of which reading the library's hashes", f"{read:.2f} s"),
        (f"{database}: of which grouping them (numpy all-pairs + union-find)", f"{scanned:.2f} s"),
        (f"{database}: groups found / planted pairs joined",
         f"{page.total_groups:,} / {found:,} of {len(planted):,}"),
        (f"{database}: similar(), p50 / p99 over {lookups}",
         f"{percentile(timings, 0.5):.1f} / {percentile(timings, 0.99):.1f} ms"),
    ]  # fmt: skip


def main() -> None:
    count = option("--images", 2_000 if quick() else 10_000)
    lookups = 50 if quick() else 200
    chosen = text_option("--database", "both")
    databases = ["sqlite", "postgresql"] if chosen == "both" else [chosen]
    calibrate(int(Settings.model_fields["near_duplicate_distance"].default))
    print()
    rows: list[tuple[str, str]] = []
    for database in databases:
        rows += scale(database, count, lookups)
    print(f"scale: one user, {count:,} images, 10% planted copies (1-8 bits from an original)")
    print(table(rows, ("what", "figure")))


if __name__ == "__main__":
    main()
