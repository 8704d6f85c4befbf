"""A phone's HEIC through the app, on both databases: confirmed with its upright size and served
as image/heic to its owner; cut short, refused with 415; rendered upright once, analysed (labels,
EXIF for the owner), and given to strangers as a WebP without GPS or camera."""

from __future__ import annotations

import io
import uuid

from fastapi.testclient import TestClient
from PIL import ExifTags, Image

from bitimage.bootstrap import Container
from bitimage.images.models import Image as ImageRow
from tests.api.test_analysis import run_worker, upload_public
from tests.support import auth, notify_body, phone_heic, stage, upload
from tests.unit.test_heic import assert_upright


def test_a_heic_is_confirmed_upright_and_served_as_heic(client: TestClient) -> None:
    headers = auth(client, "phone@example.com")
    data = phone_heic()
    (shown,) = upload(client, headers, [data])
    assert (shown["file_format"], shown["width"], shown["height"]) == ("heic", 448, 300)
    mine = client.get(f"/api/v1/images/{shown['id']}/expanded", headers=headers).json()
    original = client.get(mine["view_url"])
    assert original.headers["content-type"] == "image/heic"
    assert original.content == data  # the owner's: byte for byte


def test_a_mif1_branded_file_is_heif(client: TestClient) -> None:
    headers = auth(client, "heif@example.com")
    data = phone_heic()
    data = data[:8] + b"mif1" + data[12:]
    (shown,) = upload(client, headers, [data])
    assert shown["file_format"] == "heif"
    mine = client.get(f"/api/v1/images/{shown['id']}/expanded", headers=headers).json()
    assert client.get(mine["view_url"]).headers["content-type"] == "image/heif"


def test_a_truncated_heic_is_refused_with_415(client: TestClient, container: Container) -> None:
    headers = auth(client, "cut@example.com")
    cut = phone_heic()[:6000]
    ids = stage(client, headers, [cut])
    answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, [cut]))
    assert answer.status_code == 415, answer.text
    body = answer.json()
    assert body["image_id"] == ids[0]
    assert "the heic data is truncated or corrupt" in body["message"]
    assert "BytesIO" not in body["message"]
    assert "0x" not in body["message"]
    with container.database.transaction(write=False) as session:
        assert session.get(ImageRow, uuid.UUID(ids[0])) is None  # nothing confirmed


def test_renditions_analysis_and_what_a_stranger_gets(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "owner@example.com")
    data = phone_heic()
    image_id = upload_public(client, headers, {"chelsea": data})["chelsea"]
    run_worker(container)

    mine = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert mine["analysis_status"] == "done"
    assert "cat" in {label["name"] for label in mine["labels"]}
    assert mine["exif"]["camera"] == "Bitcam One"  # the owner sees the camera and place
    assert mine["exif"]["gps"]["GPSLatitudeRef"] == "N"
    assert mine["exif"]["orientation"] == 1  # the pixels analysed were upright already
    assert mine["placeholder"]
    thumbnail = client.get(mine["thumbnail_url"])
    assert thumbnail.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as image:
        assert image.size == (373, 250)
        assert_upright(image)
    with Image.open(io.BytesIO(client.get(mine["preview_url"]).content)) as image:
        assert image.size == (448, 300)
        assert_upright(image)

    shown = client.get("/api/v1/images/public/summary").json()["images"][0]
    copy = client.get(shown["view_url"])
    assert copy.headers["content-type"] == "image/webp"
    assert b"Bitcam" not in copy.content
    with Image.open(io.BytesIO(copy.content)) as image:
        assert image.format == "WEBP"
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert_upright(image)
    public = client.get(f"/api/v1/images/{image_id}/expanded").json()
    assert public["exif"] is None
    assert public["labels"] == mine["labels"]
