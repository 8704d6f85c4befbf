"""Analysis through the app on real photos (scikit-image's): labels, categories, confidence,
the expanded view's facts, EXIF for the owner only, text search, moderation, reanalysis."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data as photos

from bitimage.analysis.ports import AnalysisResult, DecodedImage, Label
from bitimage.bootstrap import Container
from bitimage.queue.db import DbJobQueue
from bitimage.queue.worker import Worker
from tests.support import auth, md5, user_id


def jpeg(pixels: np.ndarray[Any, Any], exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=92, exif=exif or Image.Exif())
    return out.getvalue()


def abstract() -> bytes:
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    return jpeg(np.dstack([*np.meshgrid(ramp, ramp), np.full((256, 256), 90, np.uint8)]))


def upload_public(
    client: TestClient, headers: dict[str, str], named: dict[str, bytes]
) -> dict[str, str]:
    """Upload each picture (public), return name -> id."""
    count = len(named)
    urls = client.get(f"/api/v1/images/upload_urls?image_count={count}", headers=headers).json()
    entries = urls["image_upload_urls"]
    body = []
    for entry, (name, payload) in zip(entries, named.items(), strict=True):
        assert client.put(entry["url"], content=payload).status_code == 200
        body.append(
            {
                "id": entry["image_id"],
                "name": name,
                "hash": md5(payload),
                "is_private": False,
                "tags": [],
            }
        )
    assert client.post("/api/v1/images", headers=headers, json={"images": body}).status_code == 201
    return {name: entry["image_id"] for entry, name in zip(entries, named, strict=True)}


def run_worker(container: Container) -> None:
    worker = Worker(
        DbJobQueue(container.database), container.jobs.handle, container.jobs.give_up, 3
    )
    while worker.run_once(0):
        pass


def names(client: TestClient, headers: dict[str, str], query: str) -> list[str]:
    answer = client.get(f"/api/v1/images/private/summary?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [image["name"] for image in answer.json()["images"]]


@pytest.fixture
def analysed(client: TestClient, container: Container) -> tuple[dict[str, str], dict[str, str]]:
    headers = auth(client, "photos@example.com")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Bitcam", "One", "2024:05:06 07:08:09"
    ids = upload_public(
        client,
        headers,
        {
            "chelsea": jpeg(photos.chelsea(), exif),
            "coffee": jpeg(photos.coffee()),
            "ramp": abstract(),
        },
    )
    run_worker(container)
    return headers, ids


def test_photos_are_found_by_what_they_show(client: TestClient, analysed: Any) -> None:
    headers, _ = analysed
    assert names(client, headers, "content_label=cat") == ["chelsea"]
    assert names(client, headers, "content_label=animal") == ["chelsea"]
    assert names(client, headers, "content_label=coffee") == ["coffee"]
    assert names(client, headers, "content_label=beverage") == ["coffee"]
    assert names(client, headers, "content_label=anmal") == ["chelsea"]  # a typo
    assert "ramp" not in names(client, headers, "content_label=animal")
    public = client.get("/api/v1/images/public/summary?content_label=cat").json()["images"]
    assert [image["name"] for image in public] == ["chelsea"]


def test_min_confidence_and_ranking_by_confidence(
    client: TestClient, analysed: Any, container: Container
) -> None:
    headers, ids = analysed
    shown = client.get(f"/api/v1/images/{ids['chelsea']}/expanded", headers=headers).json()
    cat = next(label for label in shown["labels"] if label["name"] == "cat")
    assert cat["source"].startswith("classifier (efficientnet-lite0@")
    above, below = cat["confidence"] - 0.01, cat["confidence"] + 0.01
    assert names(client, headers, f"content_label=cat&min_confidence={above}") == ["chelsea"]
    assert names(client, headers, f"content_label=cat&min_confidence={below}") == []
    bad = client.get("/api/v1/images/private/summary?min_confidence=0.5", headers=headers)
    assert bad.status_code == 400


class Brightness:
    """Labels every picture "thing", as confident as the picture is bright."""

    name = "brightness"
    model = "fake@1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        grey = image.pixels.convert("L").resize((1, 1)).getpixel((0, 0))
        assert isinstance(grey, int)
        return AnalysisResult(labels=[Label("thing", round(grey / 255, 3))])


def test_label_matches_rank_by_confidence(client: TestClient, container: Container) -> None:
    headers = auth(client, "ranked@example.com")
    container.analysis.analysers = [Brightness()]
    grey = {"bright": 220, "dark": 40, "middle": 128}
    upload_public(
        client,
        headers,
        {name: jpeg(np.full((64, 64, 3), level, np.uint8)) for name, level in grey.items()},
    )
    run_worker(container)
    # Newest first would be middle, dark, bright: confidence wins over recency.
    assert names(client, headers, "content_label=thing") == ["bright", "middle", "dark"]
    assert names(client, headers, "content_label=thinh") == ["bright", "middle", "dark"]
    assert names(client, headers, "content_label=thing&min_confidence=0.4") == ["bright", "middle"]
    page = client.get(
        "/api/v1/images/private/summary?content_label=thing&limit=1", headers=headers
    ).json()
    rest = client.get(
        f"/api/v1/images/private/summary?content_label=thing&cursor={page['next_cursor']}",
        headers=headers,
    ).json()
    assert [i["name"] for i in page["images"] + rest["images"]] == ["bright", "middle", "dark"]


def test_expanded_view_facts_and_exif_for_the_owner_only(client: TestClient, analysed: Any) -> None:
    headers, ids = analysed
    own = client.get(f"/api/v1/images/{ids['chelsea']}/expanded", headers=headers).json()
    assert own["analysis_status"] == "done"
    assert own["colours"]
    assert own["exif"]["camera"] == "Bitcam One"
    assert own["exif"]["taken_at"] == "2024:05:06 07:08:09"
    assert own["moderation"]["status"] == "none"
    other = auth(client, "stranger@example.com")
    seen = client.get(f"/api/v1/images/{ids['chelsea']}/expanded", headers=other).json()
    assert seen["labels"] == own["labels"]
    assert seen["exif"] is None
    assert seen["moderation"] is None
    anonymous = client.get(f"/api/v1/images/{ids['chelsea']}/expanded").json()
    assert anonymous["exif"] is None


def test_reanalysis_replaces_labels_never_doubles(
    client: TestClient, analysed: Any, container: Container
) -> None:
    headers, ids = analysed
    before = client.get(f"/api/v1/images/{ids['coffee']}/expanded", headers=headers).json()
    with container.database.transaction() as session:
        assert container.analysis.reanalyze(session, None) == 3
    run_worker(container)
    with container.database.transaction() as session:
        container.analysis.reanalyze(session, None, ["colours"])
    run_worker(container)
    after = client.get(f"/api/v1/images/{ids['coffee']}/expanded", headers=headers).json()
    assert after["labels"] == before["labels"]


class FakeReader:
    """Stands in for OCR and the explicit-content detector (tested on their own elsewhere)."""

    name = "text"
    model = "fake@1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        return AnalysisResult(
            labels=[Label("signboard", 0.5)],
            text="OPEN 24 HOURS\nbit image cafe",
            facts={"moderation": {"explicit_score": 0.9, "classes": {"FAKE_EXPOSED": 0.9}}},
        )


def test_text_search_and_moderation(client: TestClient, container: Container) -> None:
    headers = auth(client, "moderated@example.com")
    container.analysis.analysers = [FakeReader()]
    ids = upload_public(client, headers, {"sign": abstract()})
    run_worker(container)
    assert names(client, headers, "text=hours") == ["sign"]
    assert names(client, headers, "text=goodbye") == []
    assert names(client, headers, "text=imag%20caffe") == ["sign"]  # typos
    # Flagged: the owner still sees it, the public does not, until the owner clears it.
    own = client.get(f"/api/v1/images/{ids['sign']}/expanded", headers=headers).json()
    assert own["moderation"] == {
        "status": "flagged",
        "explicit_score": 0.9,
        "classes": {"FAKE_EXPOSED": 0.9},
    }
    assert own["text"] == "OPEN 24 HOURS\nbit image cafe"
    assert client.get("/api/v1/images/public/summary").json()["images"] == []
    assert client.get(f"/api/v1/images/{ids['sign']}/expanded").status_code == 404
    other = auth(client, "other@example.com")
    cleared = client.post(f"/api/v1/images/{ids['sign']}/moderation/clear", headers=other)
    assert cleared.status_code == 404
    assert cleared.json()["image_id"] == ids["sign"]
    cleared = client.post(f"/api/v1/images/{ids['sign']}/moderation/clear", headers=headers)
    assert cleared.status_code == 204
    public = client.get("/api/v1/images/public/summary").json()["images"]
    assert [image["name"] for image in public] == ["sign"]
    # Analysed again, a cleared image stays cleared.
    with container.database.transaction() as session:
        container.analysis.reanalyze(session, None)
    run_worker(container)
    assert client.get(f"/api/v1/images/{ids['sign']}/expanded").status_code == 200
    assert user_id(client, headers)
