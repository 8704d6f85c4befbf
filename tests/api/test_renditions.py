"""Renditions and what strangers see, through the app, on the local store and on S3 (moto),
on both databases: thumbnail, preview and placeholder after the job; a stranger's view_url
without GPS and with the same pixels, the owner's byte for byte the upload; old images get
renditions on first request; deletion takes every rendition; caching headers and 304."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import update

from bitimage.bootstrap import JOB_KINDS, Container
from bitimage.images.models import Image as ImageRow
from bitimage.queue.db import DbJobQueue
from bitimage.queue.worker import Worker
from bitimage.storage.keys import derived_keys, permanent_key, user_prefixes
from tests.s3server import create_buckets, moto_s3
from tests.support import app_client, auth, make_container, make_settings, md5, phone_heic, user_id
from tests.unit.test_heic import assert_upright

LOCAL = "http://127.0.0.1:8000/storage/"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def built(
    tmp_path: Path, database_url: str, store_kind: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Container, TestClient]]:
    overrides: dict[str, object] = {"analysers": ""}  # the rendition step, no model
    if store_kind == "s3":
        endpoint: str = request.getfixturevalue("endpoint")
        bucket = f"bitimage-{uuid.uuid4().hex[:12]}"
        create_buckets(endpoint, [bucket])
        overrides.update(storage_url=f"s3://{bucket}", s3_endpoint_url=endpoint)
    container = make_container(
        make_settings(tmp_path / "data", database_url=database_url, **overrides)
    )
    with app_client(container) as client:
        yield container, client
    container.close()


def _get(client: TestClient, url: str, **headers: str) -> Any:
    """GET a signed URL: the local store's through the app, S3's over HTTP."""
    if url.startswith(LOCAL):
        return client.get(url, headers=headers)
    return httpx.get(url, headers=headers)


def _put(client: TestClient, url: str, data: bytes) -> None:
    answer = (
        client.put(url, content=data) if url.startswith(LOCAL) else httpx.put(url, content=data)
    )
    assert answer.status_code == 200


def _upload(client: TestClient, headers: dict[str, str], data: bytes, public: bool) -> str:
    urls = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()
    entry = urls["image_upload_urls"][0]
    _put(client, entry["url"], data)
    body = {"id": entry["image_id"], "name": "trip", "hash": md5(data), "is_private": not public}
    answer = client.post("/api/v1/images", headers=headers, json={"images": [body]})
    assert answer.status_code == 201, answer.text
    return str(entry["image_id"])


def _run_worker(container: Container) -> None:
    queue = DbJobQueue(container.database, kinds=JOB_KINDS)
    worker = Worker(queue, container.jobs.handle, container.jobs.give_up, 3)
    while worker.run_once(0):
        pass


def _photo_with_gps() -> bytes:
    """A 1200x800 JPEG turned by EXIF (orientation 6), with GPS and a camera."""
    y, x = np.mgrid[0:800, 0:1200]
    pixels = np.dstack([x % 256, y % 256, (x // 5 + y // 7) % 256]).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F], exif[0x0110] = "Bitcam", "One"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 30.0), "E", (2.0, 17.0, 40.0)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _pixels(data: bytes) -> Any:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _stored(container: Container, owner: str) -> set[str]:
    keys: set[str] = set()
    for prefix in user_prefixes(uuid.UUID(owner)):
        keys.update(info.key for info in container.store.list(prefix))
    return keys


def test_renditions_urls_and_what_a_stranger_gets(built: tuple[Container, TestClient]) -> None:
    container, client = built
    headers = auth(client, "owner@example.com")
    owner = user_id(client, headers)
    photo = _photo_with_gps()
    image_id = _upload(client, headers, photo, public=True)

    # Before the job: no renditions yet, but a stranger's view_url is already stripped.
    shown = client.get("/api/v1/images/public/summary").json()["images"][0]
    assert (shown["thumbnail_url"], shown["preview_url"], shown["placeholder"]) == (None,) * 3
    stranger = _get(client, shown["view_url"]).content
    with Image.open(io.BytesIO(stranger)) as image:
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert dict(image.getexif()) == {0x0112: 6}  # orientation kept, camera gone
    assert b"Bitcam" not in stranger
    assert np.array_equal(_pixels(stranger), _pixels(photo))

    _run_worker(container)
    mine = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert _get(client, mine["view_url"]).content == photo  # the owner's: byte for byte
    assert 15 <= len(base64.b64decode(mine["placeholder"])) <= 30
    thumbnail = _get(client, mine["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert image.size == (250, 375)  # upright: 800x1200
    with Image.open(io.BytesIO(_get(client, mine["preview_url"]).content)) as image:
        assert image.size == (800, 1200)  # never upscaled

    public = client.get(f"/api/v1/images/{image_id}/expanded").json()
    assert public["placeholder"] == mine["placeholder"]
    assert _get(client, public["view_url"]).content == stranger
    assert b"Bitcam" not in _get(client, public["preview_url"]).content

    key = permanent_key(uuid.UUID(owner), uuid.UUID(image_id))
    assert _stored(container, owner) == {key, *derived_keys(key)}
    assert client.delete(f"/api/v1/images?id={image_id}", headers=headers).status_code == 204
    assert _stored(container, owner) == set()  # the original and all it was made into


def test_a_private_image_gets_no_stripped_copy_and_the_account_takes_all(
    built: tuple[Container, TestClient],
) -> None:
    container, client = built
    headers = auth(client, "private@example.com")
    owner = user_id(client, headers)
    image_id = _upload(client, headers, _photo_with_gps(), public=False)
    _run_worker(container)
    key = permanent_key(uuid.UUID(owner), uuid.UUID(image_id))
    thumbnail, preview, _ = derived_keys(key)
    assert _stored(container, owner) == {key, thumbnail, preview}
    assert client.delete(f"/api/v1/users/{owner}", headers=headers).status_code == 204
    assert _stored(container, owner) == set()


def test_an_image_from_before_renditions_gets_them_on_first_request(
    built: tuple[Container, TestClient],
) -> None:
    container, client = built
    headers = auth(client, "old@example.com")
    image_id = _upload(client, headers, _photo_with_gps(), public=False)
    _run_worker(container)
    with container.database.transaction() as session:  # as a row of an older version reads
        session.execute(
            update(ImageRow).values(rendered_at=None, placeholder=None, public_copy=False)
        )
    for _ in range(2):  # asked twice, queued once
        shown = client.get("/api/v1/images/private/summary", headers=headers).json()["images"]
        assert shown[0]["thumbnail_url"] is None
    with container.database.transaction(write=False) as session:
        from bitimage.queue.models import Job

        kinds = [job.kind for job in session.query(Job).all()]
    assert kinds == ["render"]
    _run_worker(container)
    shown = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert shown["thumbnail_url"] is not None
    assert shown["placeholder"] is not None


def test_local_store_answers_are_cacheable_and_conditional(
    built: tuple[Container, TestClient], store_kind: str
) -> None:
    container, client = built
    headers = auth(client, "cache@example.com")
    image_id = _upload(client, headers, _photo_with_gps(), public=True)
    _run_worker(container)
    mine = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    ttl = container.settings.view_url_ttl_seconds
    if store_kind == "s3":
        # S3 answers the headers the rendition objects were written with.
        answer = _get(client, mine["thumbnail_url"])
        assert answer.headers["cache-control"] == f"private, max-age={ttl}"
        assert answer.headers["content-type"] == "image/webp"
        return
    for url in (mine["view_url"], mine["thumbnail_url"], mine["preview_url"]):
        first = _get(client, url)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert not etag.startswith("W/")
        age = int(first.headers["cache-control"].removeprefix("private, max-age="))
        assert ttl - 5 <= age <= ttl
        again = _get(client, url, **{"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert _get(client, url, **{"If-None-Match": '"other"'}).status_code == 200


def test_a_rendition_url_reaches_no_original(
    built: tuple[Container, TestClient], store_kind: str
) -> None:
    container, client = built
    headers = auth(client, "scope@example.com")
    image_id = _upload(client, headers, _photo_with_gps(), public=True)
    _run_worker(container)
    public = client.get(f"/api/v1/images/{image_id}/expanded").json()
    # The stranger's URLs share one signature: editing the path to the original is refused.
    original = public["thumbnail_url"].replace(".thumb.webp", "", 1)
    assert _get(client, original).status_code == 403
    assert _get(client, public["preview_url"]).status_code == 200


def test_reanalysis_backfills_renditions(built: tuple[Container, TestClient]) -> None:
    container, client = built
    headers = auth(client, "backfill@example.com")
    image_id = _upload(client, headers, _photo_with_gps(), public=True)
    _run_worker(container)
    with container.database.transaction() as session:  # as a row of an older version reads
        session.execute(
            update(ImageRow).values(rendered_at=None, placeholder=None, public_copy=False)
        )
    with container.database.transaction() as session:  # what `bitimage reanalyze --all` does
        assert container.analysis.reanalyze(session, None) == 1
    _run_worker(container)
    with container.database.transaction(write=False) as session:
        row = session.get(ImageRow, uuid.UUID(image_id))
        assert row is not None
        assert row.placeholder is not None
        assert row.public_copy  # public: its stripped copy was made by the step too


def test_a_phone_heic_on_either_store(built: tuple[Container, TestClient]) -> None:
    """Notify reads a HEIC whole through the ranged reader (S3 too); renditions are upright."""
    container, client = built
    headers = auth(client, "heic@example.com")
    photo = phone_heic()
    image_id = _upload(client, headers, photo, public=True)
    _run_worker(container)
    mine = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert (mine["file_format"], mine["width"], mine["height"]) == ("heic", 448, 300)
    assert _get(client, mine["view_url"]).content == photo
    with Image.open(io.BytesIO(_get(client, mine["thumbnail_url"]).content)) as image:
        assert_upright(image)
    stranger = _get(client, client.get(f"/api/v1/images/{image_id}/expanded").json()["view_url"])
    assert b"Bitcam" not in stranger.content
    with Image.open(io.BytesIO(stranger.content)) as image:
        assert image.format == "WEBP"
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
