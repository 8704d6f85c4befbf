"""Renditions: images/s of the rendition step against bare Pillow; a summary page's weight.

Baseline, same run: bare Pillow on the same JPEG: open, draft to the size the step decodes at,
resize to the preview (long edge 1440) and save it as WebP, resize that to the thumbnail
(short edge 250) and save it as WebP: the same sizes, filter and WebP settings, nothing else.
Measured against it: `render` (upright by EXIF, colour profile check, thumbnail + preview +
ThumbHash), and `RenditionService.make` on a local store (reads the original and writes both
renditions, each synced to the disk). Inputs: a ~1 MB photo JPEG (skimage's astronaut,
2048x1536, q90) and a 12 MP JPEG stored sideways (4000x3000, EXIF orientation 6). Target: the
rendition step (`render`) reaches 90% of the baseline's images/s.
Page weight: what a browser loads for a page of 100 summaries: the JSON plus each thumbnail,
against the JSON plus each original (~1 MB photos; five distinct photos, each used 20 times).
Target: under 3% of the originals' bytes.
Whole worker pipeline, before and after this step: the analyze job as the worker runs it
(`AnalysisTasks.analyse_image`: read the key, decode, every default analyser, store the
results) on images confirmed through `UploadService.confirm` into a SQLite + local-store
container, without the rendition first step (before) and with it (after: the container's own
wiring), each image analysed once, the two called in turn so the noise falls on both.
Run: python bench/bench_renditions.py [--quick]
"""

from __future__ import annotations

import hashlib
import io
import math
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from PIL import Image
from skimage import data

from bitimage.analysis.tasks import AnalysisTasks
from bitimage.bootstrap import Container, bootstrap
from bitimage.config import load_settings
from bitimage.db.migrate import upgrade
from bitimage.images.schemas import ImageSummary, NotifyImage, SummaryPage
from bitimage.renditions.render import (
    PREVIEW_EDGE,
    REDUCING_GAP,
    THUMBNAIL_EDGE,
    WEBP_METHOD,
    WEBP_QUALITY,
    render,
)
from bitimage.renditions.service import RenditionService
from bitimage.storage.keys import permanent_key, preview_key, staging_key, thumbnail_key
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner

try:
    from bench._common import photo_jpeg, quick, table
except ModuleNotFoundError:  # run as `python bench/bench_renditions.py`
    from _common import (  # type: ignore[import-not-found,no-redef]
        photo_jpeg,
        quick,
        table,
    )

MAX_PIXELS = 100_000_000
PAGE = 100


def bare(jpeg: bytes) -> None:
    """Bare Pillow: draft, resize, WebP, for the preview and the thumbnail."""
    with Image.open(io.BytesIO(jpeg)) as image:
        width, height = image.size
        scale = min(
            1.0, max(PREVIEW_EDGE / max(width, height), THUMBNAIL_EDGE / min(width, height))
        )
        image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
        fit = min(1.0, PREVIEW_EDGE / max(width, height))
        preview = image.resize(
            (round(width * fit), round(height * fit)),
            Image.Resampling.LANCZOS,
            reducing_gap=REDUCING_GAP,
        )
    short = THUMBNAIL_EDGE / min(preview.size)
    thumbnail = preview.resize(
        (round(preview.width * short), round(preview.height * short)),
        Image.Resampling.LANCZOS,
        reducing_gap=REDUCING_GAP,
    )
    for picture in (preview, thumbnail):
        picture.save(io.BytesIO(), "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)


def interleaved(fns: list[Callable[[], object]], calls: int, rounds: int) -> list[float]:
    """Calls per second of each fn, called in turn (a, b, c, a, b, c...) so that the noise of
    a shared machine falls on all alike; the best of `rounds` rounds for each."""
    best = [0.0] * len(fns)
    for _ in range(rounds):
        spent = [0.0] * len(fns)
        for _ in range(calls):
            for index, fn in enumerate(fns):
                start = time.perf_counter()
                fn()
                spent[index] += time.perf_counter() - start
        best = [max(b, calls / s) for b, s in zip(best, spent, strict=True)]
    return best


def _render(jpeg: bytes) -> object:
    return render(io.BytesIO(jpeg), MAX_PIXELS)


def throughput(rounds: int, calls: int) -> None:
    """images/s of the bare baseline, render() and the whole step with the store."""
    inputs = {
        "1 MB JPEG": photo_jpeg(data.astronaut(), 2048, 1536, 90, grain=10),
        "12 MP JPEG": photo_jpeg(data.astronaut(), 4000, 3000, 90, rotated=True, grain=10),
    }
    rows = []
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="bench-renditions-") as folder:
        store = LocalSignedStore(Path(folder), UrlSigner(b"x" * 32), "http://127.0.0.1:8000")
        service = RenditionService(store, MAX_PIXELS, 3600)
        for label, jpeg in inputs.items():
            key = permanent_key(uuid.uuid4(), uuid.uuid4())
            store.put(key, jpeg, "image/jpeg")
            baseline, step, stored = interleaved(
                [
                    partial(bare, jpeg),
                    partial(_render, jpeg),
                    partial(service.make, key, "jpeg", True, False),
                ],
                calls,
                rounds,
            )
            size = f"{len(jpeg) / 1e6:.2f} MB"
            rows += [
                (f"{label} ({size}): bare Pillow (baseline)", f"{baseline:.1f}", "1.00"),
                (f"{label}: render()", f"{step:.1f}", f"{step / baseline:.2f}"),
                (f"{label}: make() with store writes", f"{stored:.1f}", f"{stored / baseline:.2f}"),
            ]
            verdicts.append(step / baseline >= 0.9)
    print(f"Rendition step, one thread (calls interleaved; best of {rounds} rounds of {calls})")
    print(table(rows, ("what", "images/s", "ratio")))
    verdict = "met" if all(verdicts) else "MISSED"
    print(f"target: render() >= 90% of bare Pillow on both JPEGs -> {verdict}")


def page_weight(photos: int) -> None:
    """Bytes of a 100-summary page with thumbnails against with the originals."""
    sources = [
        data.astronaut(),
        data.chelsea(),
        data.coffee(),
        data.rocket(),
        data.hubble_deep_field(),
    ]
    originals, thumbnails = [], []
    for pixels in sources[:photos]:
        jpeg = photo_jpeg(pixels, 2048, 1536, 90, grain=10)
        originals.append(len(jpeg))
        thumbnails.append(len(render(io.BytesIO(jpeg), MAX_PIXELS).thumbnail))
    store = LocalSignedStore(
        Path(tempfile.mkdtemp(prefix="bench-page-")), UrlSigner(b"x" * 32), "http://127.0.0.1:8000"
    )
    summaries = []
    for index in range(PAGE):
        key = permanent_key(uuid.uuid4(), uuid.uuid4())
        view, thumb, preview = store.presign_gets([key, thumbnail_key(key), preview_key(key)], 3600)
        summaries.append(
            ImageSummary(
                id=uuid.uuid4(),
                name=f"holiday photo {index}",
                is_private=False,
                file_format="jpeg",
                view_url=view,
                thumbnail_url=thumb,
                preview_url=preview,
                placeholder="H/gBBYCYmOermvRhWL1aObut8Hpn",
                created_at=datetime.now(UTC),
                width=2048,
                height=1536,
                size_bytes=originals[index % len(originals)],
                analysis_status="done",
            )
        )
    page = len(SummaryPage(images=summaries, next_cursor=None).model_dump_json().encode())
    with_originals = page + sum(originals[i % len(originals)] for i in range(PAGE))
    with_thumbnails = page + sum(thumbnails[i % len(thumbnails)] for i in range(PAGE))
    share = with_thumbnails / with_originals
    print()
    print(f"A page of {PAGE} summaries ({len(originals)} distinct photos, cycled)")
    print(
        table(
            [
                ("JSON of the page", f"{page:,}", ""),
                ("JSON + originals (baseline)", f"{with_originals:,}", "1.000"),
                ("JSON + thumbnails", f"{with_thumbnails:,}", f"{share:.3f}"),
            ],
            ("what", "bytes", "ratio"),
        )
    )
    mean_original = sum(originals) / len(originals)
    mean_thumbnail = sum(thumbnails) / len(thumbnails)
    print(
        f"mean original {mean_original / 1e6:.2f} MB, mean thumbnail {mean_thumbnail / 1e3:.1f} kB"
    )
    print(
        f"target: thumbnails < 3% of the originals' bytes -> {'met' if share < 0.03 else 'MISSED'}"
    )


def confirmed(container: Container, user_id: uuid.UUID, jpegs: list[bytes]) -> list[uuid.UUID]:
    """Each JPEG staged and confirmed by the service's own code; their image ids."""
    store = container.local_store
    assert store is not None, "the pipeline is measured on the local store"
    with container.database.transaction() as session:
        grants = container.uploads.issue_upload_urls(session, user_id, len(jpegs))
    for grant, jpeg in zip(grants, jpegs, strict=True):
        store.open_writer(staging_key(user_id, grant.image_id)).commit(jpeg)
        digest = hashlib.md5(jpeg, usedforsecurity=False).hexdigest()
        item = NotifyImage(id=grant.image_id, name="photo", hash=digest, is_private=True)
        container.uploads.confirm(user_id, [item])
    return [grant.image_id for grant in grants]


def worker_pipeline(images: int) -> None:
    """images/s of the analyze job without and with the rendition first step, in turns."""
    base = photo_jpeg(data.astronaut(), 2048, 1536, 90, grain=10)
    # Distinct bytes for each image (a different comment), the same pixels and size.
    jpegs = [base[:2] + b"\xff\xfe\x00\x06" + i.to_bytes(4) + base[2:] for i in range(2 * images)]
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        settings = load_settings(data_dir=Path(folder), argon2_memory_kib=8192, run_worker=False)
        container = bootstrap(settings)
        try:
            upgrade(container.database.engine)
            with container.database.transaction() as session:
                account = container.cas.signup(session, "bench@example.com", "pass-word-1", "-")
                user_id = account.id
                container.users.create(session, user_id)
            ids = confirmed(container, user_id, jpegs)
            before = AnalysisTasks(container.database, container.analysis)  # no first step
            after = container.analysis_tasks  # as bootstrap wires it: renditions first
            before.analyse_image(ids[0])  # warm-up: loads the models, converts the weights
            spent = [0.0, 0.0]
            for index in range(1, images):
                for side, tasks in enumerate((before, after)):
                    start = time.perf_counter()
                    assert tasks.analyse_image(ids[2 * index + side])
                    spent[side] += time.perf_counter() - start
        finally:
            container.close()
    calls = images - 1
    rate_before, rate_after = calls / spent[0], calls / spent[1]
    print()
    print(f"Whole worker pipeline, 1 MB JPEG, {calls} images each side, called in turn")
    print(
        table(
            [
                ("analyze job without renditions (before)", f"{rate_before:.2f}", "1.00"),
                (
                    "analyze job with the rendition step (after)",
                    f"{rate_after:.2f}",
                    f"{rate_after / rate_before:.2f}",
                ),
            ],
            ("what", "images/s", "ratio"),
        )
    )
    print(f"the rendition step costs {1000 * (1 / rate_after - 1 / rate_before):.0f} ms an image")


def main() -> None:
    rounds, calls, photos = (2, 3, 2) if quick() else (3, 10, 5)
    throughput(rounds, calls)
    page_weight(photos)
    worker_pipeline(3 if quick() else 16)


if __name__ == "__main__":
    main()
