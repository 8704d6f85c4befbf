"""Visually similar images (kind=visual) through the app, on SQLite and PostgreSQL: ranking by
the classifier's embedding, owner scope, public matching, and vectors leaving with images."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from bitimage.bootstrap import Container
from bitimage.config import Settings
from bitimage.images.models import Image as ImageRow
from tests.api.test_duplicates import analyse, jpeg, picture, upload
from tests.support import auth, make_settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The embedding comes from the classifier alone.
    return make_settings(tmp_path / "data", database_url=database_url, analysers="classifier")


def neighbours(answer: Any) -> list[tuple[str, float]]:
    """The images found and their similarity (the signed URLs change with the clock)."""
    return [(found["image"]["id"], found["similarity"]) for found in answer["images"]]


def visual(
    client: TestClient, image_id: str, headers: dict[str, str] | None = None, query: str = ""
) -> Any:
    answer = client.get(
        f"/api/v1/images/{image_id}/similar?kind=visual{query}", headers=headers or {}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def names(found: Any) -> list[str]:
    return [entry["image"]["name"] for entry in found["images"]]


def unsigned(found: Any) -> Any:
    """The answer without its pre-signed URLs."""
    urls = ("view_url", "thumbnail_url", "preview_url")
    images = [
        {**entry, "image": {k: v for k, v in entry["image"].items() if k not in urls}}
        for entry in found["images"]
    ]
    return {**found, "images": images}


def photos() -> dict[str, bytes]:
    cat = picture("chelsea")
    return {
        "cat": jpeg(cat),
        "cat crop": jpeg(cat.crop((60, 30, 840, 570)).resize((700, 480))),
        "coffee": jpeg(picture("coffee")),
        "rocket": jpeg(picture("rocket")),
    }


def vector_count(container: Container) -> int:
    with container.database.transaction() as session:
        return int(session.execute(text("SELECT count(*) FROM image_search_vectors")).scalar_one())


def test_a_crop_ranks_above_other_photos(client: TestClient, container: Container) -> None:
    headers = auth(client, "looks@example.com")
    ids = upload(client, headers, photos())
    # Before analysis there is no embedding: nothing is similar yet.
    assert visual(client, ids["cat"], headers)["images"] == []
    analyse(container)
    found = visual(client, ids["cat"], headers)
    assert found["kind"] == "visual"
    assert found["max_distance"] is None
    assert names(found)[0] == "cat crop"
    assert sorted(names(found)) == ["cat crop", "coffee", "rocket"]  # itself excluded
    scores = [entry["similarity"] for entry in found["images"]]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[1] + 0.2
    assert all(entry["distance"] is None and not entry["exact"] for entry in found["images"])
    assert names(visual(client, ids["cat"], headers, "&limit=1")) == ["cat crop"]
    # max_distance is kind=duplicate's: allowed by the schema, not used here. (The URLs are
    # signed anew each call, their expiry in whole seconds: compared without them.)
    assert unsigned(visual(client, ids["cat"], headers, "&max_distance=3")) == unsigned(found)
    assert names(visual(client, ids["coffee"], headers))[-1] != "coffee"


def test_reanalysis_replaces_the_vector(client: TestClient, container: Container) -> None:
    headers = auth(client, "again@example.com")
    ids = upload(client, headers, photos())
    analyse(container)
    before = neighbours(visual(client, ids["cat"], headers))
    container.analysis_tasks.analyse_image(uuid.UUID(ids["cat"]))
    assert vector_count(container) == 4
    assert neighbours(visual(client, ids["cat"], headers)) == before


def test_owner_scope_and_public_matching(client: TestClient, container: Container) -> None:
    alice = auth(client, "alice@example.com")
    bob = auth(client, "bob@example.com")
    cat = picture("chelsea")
    mine = upload(client, alice, {"alice cat": jpeg(cat), "alice coffee": jpeg(picture("coffee"))})
    bobs = upload(client, bob, {"bob private cat": jpeg(cat.resize((600, 400)))})
    public = upload(client, bob, {"bob public cat": jpeg(cat, quality=70)}, private=False)
    analyse(container)
    # Alice's library only: Bob's cats, private or public, are not in it.
    assert names(visual(client, mine["alice cat"], alice)) == ["alice coffee"]
    # A stranger (or nobody) on Bob's public image: public images only.
    assert names(visual(client, public["bob public cat"], alice)) == []
    assert names(visual(client, public["bob public cat"])) == []
    assert names(visual(client, public["bob public cat"], bob)) == ["bob private cat"]
    other = upload(client, alice, {"alice public cat": jpeg(cat, quality=60)}, private=False)
    analyse(container)
    assert names(visual(client, public["bob public cat"])) == ["alice public cat"]
    assert names(visual(client, public["bob public cat"], alice)) == ["alice public cat"]
    # A public image the explicit-content check hid is not matched for strangers either.
    with container.database.transaction() as session:
        session.execute(
            update(ImageRow)
            .where(ImageRow.id == uuid.UUID(other["alice public cat"]))
            .values(moderation="flagged")
        )
    assert names(visual(client, public["bob public cat"])) == []
    answer = client.get(f"/api/v1/images/{bobs['bob private cat']}/similar?kind=visual",
                        headers=alice)  # fmt: skip
    assert answer.status_code == 404


def test_deleting_images_and_accounts_removes_their_vectors(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "gone@example.com")
    ids = upload(client, headers, photos())
    analyse(container)
    assert vector_count(container) == 4
    answer = client.delete(f"/api/v1/images?id={ids['cat crop']}", headers=headers)
    assert answer.status_code == 204
    assert vector_count(container) == 3
    assert "cat crop" not in names(visual(client, ids["cat"], headers))
    me = client.get("/api/v1/users/me", headers=headers).json()["id"]
    assert client.delete(f"/api/v1/users/{me}", headers=headers).status_code == 204
    assert vector_count(container) == 0
