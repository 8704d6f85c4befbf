"""The uploader's --skip-near-duplicates against a fake API: held near copies and near copies
within the run are skipped before their bytes are sent, other pictures go up."""

from __future__ import annotations

import io
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from bitimage.client.models import (
    Account,
    ExpandedImage,
    HashLookup,
    HashMatches,
    ImageSummary,
    NearImage,
    NotifyImage,
    UploadUrl,
)
from bitimage.client.near import MAX_PIXELS, file_dhash
from bitimage.client.tracking import Item
from bitimage.client.uploads import BatchUploader, UploadFile
from bitimage.dhash import stream_dhash

REACH = 10  # the fake server's calibrated distance


def jpeg(name: str, size: tuple[int, int] = (600, 400), quality: int = 90) -> bytes:
    pixels: np.ndarray[Any, Any] = getattr(photos, name)()
    out = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").resize(size).save(out, "JPEG", quality=quality)
    return out.getvalue()


def dhash_of(payload: bytes) -> str:
    return stream_dhash(io.BytesIO(payload), MAX_PIXELS)


SUMMARY = {
    "name": "held", "is_private": True, "file_format": "jpeg", "view_url": "http://x/v",
    "thumbnail_url": None, "preview_url": None, "placeholder": None, "width": 600,
    "height": 400, "size_bytes": 1, "analysis_status": "done",
}  # fmt: skip


def summary(image_id: uuid.UUID) -> ImageSummary:
    return ImageSummary.model_validate({**SUMMARY, "id": image_id, "created_at": datetime.now(UTC)})


class FakeApi:
    """An account holding `held` (dHash -> image id); records lookups and PUTs."""

    def __init__(self, held: dict[str, uuid.UUID]) -> None:
        self.held = held
        self.lock = threading.Lock()
        self.lookups: list[tuple[list[str], int | None]] = []
        self.put_sizes: list[int] = []
        self.notified: list[NotifyImage] = []

    def account(self, user_id: uuid.UUID | None = None) -> Account:
        return Account(id=uuid.uuid4(), image_upload_count=len(self.held), image_upload_limit=None)

    def held_hashes(self, concurrency: int = 8) -> dict[str, uuid.UUID]:
        return {}

    def find_by_hash(self, md5: str) -> ImageSummary | None:
        return None

    def near_images(
        self, dhashes: Sequence[str], *, max_distance: int | None = None, limit: int = 5
    ) -> HashLookup:
        reach = REACH if max_distance is None else max_distance
        with self.lock:
            self.lookups.append((list(dhashes), max_distance))
        matches = []
        for wanted in dhashes:
            near = sorted(
                (bin(int(wanted, 16) ^ int(h, 16)).count("1"), image_id)
                for h, image_id in self.held.items()
            )
            images = [NearImage(image=summary(i), distance=d) for d, i in near if d <= reach]
            matches.append(HashMatches(dhash=wanted, images=images[:limit]))
        return HashLookup(max_distance=reach, matches=matches)

    def upload_urls(self, count: int) -> list[UploadUrl]:
        return [UploadUrl(url=f"http://x/{n}", image_id=uuid.uuid4()) for n in range(count)]

    def put_object(
        self,
        url: str,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
        md5: bool = False,
    ) -> str | None:
        with self.lock:
            self.put_sizes.append(size or 0)
        return None

    def notify(self, images: Sequence[NotifyImage]) -> list[ImageSummary]:
        with self.lock:
            self.notified.extend(images)
        return []

    def expanded(self, image_id: uuid.UUID | str) -> ExpandedImage:
        raise AssertionError("not asked in these tests")


def write(folder: Path, named: dict[str, bytes]) -> list[Path]:
    paths = []
    for name, payload in named.items():
        (folder / name).write_bytes(payload)
        paths.append(folder / name)
    return paths


def statuses(report: Any) -> dict[str, tuple[str, str | None]]:
    return {Path(f.source).name: (f.status, f.reason) for f in report.files}


def test_a_held_near_copy_is_skipped_naming_the_image_and_a_new_photo_goes_up(
    tmp_path: Path,
) -> None:
    cat = jpeg("chelsea")
    held_id = uuid.uuid4()
    api = FakeApi({dhash_of(cat): held_id})
    small = jpeg("chelsea", (300, 200), quality=40)  # resized and re-encoded: other bytes
    paths = write(tmp_path, {"small cat.jpg": small, "coffee.jpg": jpeg("coffee")})
    report = BatchUploader(api, skip_near_duplicates=True).run(paths)
    found = statuses(report)
    status, reason = found["small cat.jpg"]
    assert status == "skipped"
    gap = bin(int(dhash_of(small), 16) ^ int(dhash_of(cat), 16)).count("1")
    assert reason == f"near duplicate of image {held_id} (distance {gap})"
    assert report.skipped[0].image_id == held_id
    assert found["coffee.jpg"] == ("uploaded", None)
    assert api.put_sizes == [len(jpeg("coffee"))]  # the copy's bytes were never sent
    assert sorted(d for asked, _ in api.lookups for d in asked) == sorted(
        [dhash_of(small), dhash_of(jpeg("coffee"))]
    )


def test_off_by_default_and_max_distance_is_passed(tmp_path: Path) -> None:
    cat = jpeg("chelsea")
    api = FakeApi({dhash_of(cat): uuid.uuid4()})
    brighter = jpeg("chelsea", quality=30)
    paths = write(tmp_path, {"cat.jpg": brighter})
    report = BatchUploader(api).run(paths)
    assert [f.status for f in report.files] == ["uploaded"]
    assert api.lookups == []
    gap = bin(int(dhash_of(brighter), 16) ^ int(dhash_of(cat), 16)).count("1")
    for reach in (gap, gap - 1):
        strict = FakeApi(api.held)
        report = BatchUploader(strict, skip_near_duplicates=True, max_distance=reach).run(paths)
        assert [f.status for f in report.files] == ["skipped" if reach >= gap else "uploaded"]
        assert [given for _, given in strict.lookups] == [reach]


def test_near_copies_within_one_run_send_exactly_one_many_times(tmp_path: Path) -> None:
    # Check-then-claim under concurrency: eight workers, nine near copies of one photo.
    cat = [jpeg("chelsea", (600 - 20 * n, 400 - 13 * n), quality=50 + 5 * n) for n in range(9)]
    other = jpeg("rocket")
    for round_ in range(15):
        folder = tmp_path / str(round_)
        folder.mkdir()
        named = {f"cat{n}.jpg": payload for n, payload in enumerate(cat)}
        paths = write(folder, {**named, "rocket.jpg": other})
        api = FakeApi({})
        report = BatchUploader(api, concurrency=8, skip_near_duplicates=True).run(paths)
        found = statuses(report)
        assert found["rocket.jpg"] == ("uploaded", None)
        cats = {name: found[name] for name in named}
        sent = [name for name, (status, _) in cats.items() if status == "uploaded"]
        assert len(sent) == 1, cats
        for name, (status, reason) in cats.items():
            if name != sent[0]:
                assert status == "skipped"
                assert reason is not None
                assert reason.startswith(f"near duplicate of {folder / sent[0]} (distance ")
        assert len(api.put_sizes) == 2
        assert len(api.notified) == 2


def test_a_file_that_does_not_decode_is_sent_for_the_server_to_judge(tmp_path: Path) -> None:
    api = FakeApi({})
    paths = write(tmp_path, {"scan.jpg": b"%PDF-1.4 not an image", "cut.jpg": jpeg("coffee")[:900]})
    report = BatchUploader(api, skip_near_duplicates=True).run(paths)
    assert sorted(f.status for f in report.files) == ["uploaded", "uploaded"]
    assert api.lookups == []  # no hash, nothing to ask


@pytest.mark.parametrize("offset", [0, 7])
def test_a_file_object_hashes_like_its_file_and_is_left_where_it_was(offset: int) -> None:
    photo = jpeg("astronaut")
    handle = io.BytesIO(b"x" * offset + photo)
    handle.seek(offset)
    item = Item("astronaut", "astronaut", [], True, handle=handle)
    assert file_dhash(item) == dhash_of(photo)
    assert handle.tell() == offset
    api = FakeApi({dhash_of(photo): uuid.uuid4()})
    handle.seek(offset)
    report = BatchUploader(api, skip_near_duplicates=True).run([UploadFile(handle, name="a")])
    assert [f.status for f in report.files] == ["skipped"]
