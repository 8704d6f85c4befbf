"""Duplicates through the app, on SQLite and PostgreSQL: one image's copies, a library's groups,
owner scope, public matching, paging, bad parameters; the dHash comes from the metadata analyser."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance
from skimage import data as photos
from sqlalchemy import update

from bitimage.bootstrap import Container
from bitimage.config import Settings
from bitimage.images.models import Image as ImageRow
from bitimage.queue.db import DbJobQueue
from bitimage.queue.worker import Worker
from tests.support import auth, make_settings, md5


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The dHash is all these tests need: the metadata analyser alone is fast.
    return make_settings(tmp_path / "data", database_url=database_url, analysers="metadata")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def picture(name: str) -> Image.Image:
    pixels: np.ndarray[Any, Any] = getattr(photos, name)()
    return Image.fromarray(pixels).convert("RGB").resize((900, 600))


def copies() -> dict[str, bytes]:
    """A photo, four copies of it (same bytes, resized, re-encoded, brighter), three others."""
    cat = picture("chelsea")
    original = jpeg(cat)
    return {
        "original": original,
        "same bytes": original,
        "resized": jpeg(cat.resize((450, 300))),
        "re-encoded": jpeg(cat, quality=35),
        "brighter": jpeg(ImageEnhance.Brightness(cat).enhance(1.15)),
        "coffee": jpeg(picture("coffee")),
        "rocket": jpeg(picture("rocket")),
        "astronaut": jpeg(picture("astronaut")),
    }


def upload(
    client: TestClient, headers: dict[str, str], named: dict[str, bytes], private: bool = True
) -> dict[str, str]:
    """Upload each picture one at a time (oldest first), return name -> id."""
    ids = {}
    for name, payload in named.items():
        urls = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers).json()
        entry = urls["image_upload_urls"][0]
        assert client.put(entry["url"], content=payload).status_code == 200
        body = {"id": entry["image_id"], "name": name, "hash": md5(payload),
                "is_private": private, "tags": []}  # fmt: skip
        answer = client.post("/api/v1/images", headers=headers, json={"images": [body]})
        assert answer.status_code == 201, answer.text
        ids[name] = entry["image_id"]
    return ids


def analyse(container: Container) -> None:
    worker = Worker(
        DbJobQueue(container.database), container.jobs.handle, container.jobs.give_up, 3
    )
    while worker.run_once(0):
        pass


def similar(
    client: TestClient, image_id: str, headers: dict[str, str] | None = None, query: str = ""
) -> Any:
    answer = client.get(
        f"/api/v1/images/{image_id}/similar?kind=duplicate{query}", headers=headers or {}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def names(found: Any) -> list[str]:
    return [entry["image"]["name"] for entry in found["images"]]


COPIES = ["same bytes", "resized", "re-encoded", "brighter"]


def test_copies_are_found_and_other_photos_are_not(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "dupes@example.com")
    ids = upload(client, headers, copies())
    analyse(container)
    found = similar(client, ids["original"], headers)
    assert found["kind"] == "duplicate"
    assert found["max_distance"] == 10
    assert sorted(names(found)) == sorted(COPIES)
    first = found["images"][0]
    assert first["image"]["name"] == "same bytes"
    assert first["exact"] is True
    assert first["distance"] == 0
    assert all(not entry["exact"] for entry in found["images"][1:])
    distances = [entry["distance"] for entry in found["images"]]
    assert distances == sorted(distances)
    assert all(0 <= gap <= 10 for gap in distances)
    # A different photo has no copy; max_distance=0 keeps only identical hashes.
    assert similar(client, ids["coffee"], headers)["images"] == []
    strict = similar(client, ids["original"], headers, "&max_distance=0")
    assert "same bytes" in names(strict)
    assert all(entry["distance"] == 0 for entry in strict["images"])
    assert len(similar(client, ids["original"], headers, "&limit=2")["images"]) == 2


def test_same_bytes_are_duplicates_before_analysis(client: TestClient) -> None:
    headers = auth(client, "early@example.com")
    photo = jpeg(picture("coffee"))
    ids = upload(
        client, headers, {"first": photo, "second": photo, "other": jpeg(picture("rocket"))}
    )
    found = similar(client, ids["first"], headers)
    assert names(found) == ["second"]
    assert found["images"][0] == {**found["images"][0], "exact": True, "distance": None}
    groups = client.get("/api/v1/images/duplicates", headers=headers).json()
    assert [[e["image"]["name"] for e in g["images"]] for g in groups["groups"]] == [
        ["first", "second"]
    ]


def test_library_groups_paged(client: TestClient, container: Container) -> None:
    headers = auth(client, "groups@example.com")
    named = copies()
    coffee = picture("coffee")
    named["coffee again"] = jpeg(coffee.resize((600, 400)))
    ids = upload(client, headers, named)
    analyse(container)
    answer = client.get("/api/v1/images/duplicates", headers=headers)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["total_groups"] == 2
    assert page["next_page"] is None
    groups = [[e["image"]["name"] for e in g["images"]] for g in page["groups"]]
    assert groups == [["original", *COPIES], ["coffee", "coffee again"]]  # largest first
    first = page["groups"][0]["images"][0]
    assert first == {**first, "distance": 0, "exact": True}
    assert first["image"]["id"] == ids["original"]
    one = client.get("/api/v1/images/duplicates?per_page=1", headers=headers).json()
    assert len(one["groups"]) == 1
    assert one["next_page"] == 2
    two = client.get("/api/v1/images/duplicates?per_page=1&page=2", headers=headers).json()
    assert [e["image"]["name"] for e in two["groups"][0]["images"]] == ["coffee", "coffee again"]
    assert two["next_page"] is None
    exact_only = client.get("/api/v1/images/duplicates?max_distance=0", headers=headers).json()
    assert exact_only["max_distance"] == 0
    strict = exact_only["groups"][0]["images"]
    assert [e["image"]["name"] for e in strict][:2] == ["original", "same bytes"]
    assert all(entry["distance"] == 0 for entry in strict)


def test_owner_scope_and_public_matching(client: TestClient, container: Container) -> None:
    alice = auth(client, "alice@example.com")
    bob = auth(client, "bob@example.com")
    cat = picture("chelsea")
    mine = upload(client, alice, {"alice cat": jpeg(cat), "alice copy": jpeg(cat, quality=50)})
    bobs = upload(client, bob, {"bob private cat": jpeg(cat.resize((600, 400)))})
    public = upload(client, bob, {"bob public cat": jpeg(cat, quality=70)}, private=False)
    analyse(container)
    # Alice's library only: Bob's copies, private or public, are not in it.
    assert names(similar(client, mine["alice cat"], alice)) == ["alice copy"]
    groups = client.get("/api/v1/images/duplicates", headers=alice).json()["groups"]
    assert [[e["image"]["name"] for e in g["images"]] for g in groups] == [
        ["alice cat", "alice copy"]
    ]
    # A stranger (or nobody) on Bob's public image: public images only, never a private one.
    assert names(similar(client, public["bob public cat"], alice)) == []
    assert names(similar(client, public["bob public cat"])) == []
    assert names(similar(client, public["bob public cat"], bob)) == ["bob private cat"]
    other = upload(client, alice, {"alice public cat": jpeg(cat, quality=60)}, private=False)
    analyse(container)
    assert names(similar(client, public["bob public cat"])) == ["alice public cat"]
    stranger_view = similar(client, public["bob public cat"], alice)["images"][0]["image"]
    assert stranger_view["id"] == other["alice public cat"]
    # A public image the explicit-content check hid is not matched for strangers either.
    with container.database.transaction() as session:
        session.execute(
            update(ImageRow)
            .where(ImageRow.id == uuid.UUID(other["alice public cat"]))
            .values(moderation="flagged")
        )
    assert names(similar(client, public["bob public cat"])) == []
    # Private images are not there for anyone but their owner.
    answer = client.get(f"/api/v1/images/{bobs['bob private cat']}/similar", headers=alice)
    assert answer.status_code == 404


def test_bad_parameters_and_no_token(client: TestClient) -> None:
    headers = auth(client, "params@example.com")
    ids = upload(client, headers, {"one": jpeg(picture("coffee"))})
    for query in ("kind=photo", "kind=duplicate&limit=0",
                  "limit=101", "max_distance=13",
                  "max_distance=-1", "colour=red"):  # fmt: skip
        answer = client.get(f"/api/v1/images/{ids['one']}/similar?{query}", headers=headers)
        assert answer.status_code == 400, query
        assert answer.json()["error"]
    for query in ("page=0", "per_page=0", "per_page=101", "max_distance=13"):
        answer = client.get(f"/api/v1/images/duplicates?{query}", headers=headers)
        assert answer.status_code == 400, query
    assert client.get("/api/v1/images/duplicates").status_code == 401
    assert client.get(f"/api/v1/images/{ids['one']}/similar").status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/v1/images/{missing}/similar", headers=headers).status_code == 404
    assert client.get("/api/v1/images/not-an-id/similar", headers=headers).status_code == 400
