"""GET /api/v1/images/duplicates/lookup: the caller's images near given dHashes, before an upload
(what `bitimage upload --skip-near-duplicates` asks), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from bitimage.bootstrap import Container
from bitimage.config import Settings
from bitimage.dhash import stream_dhash
from tests.api.test_duplicates import analyse, jpeg, picture, upload
from tests.support import auth, make_settings, phone_heic

MAX_PIXELS = 50_000_000


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url=database_url, analysers="metadata")


def hash_of(payload: bytes) -> str:
    return stream_dhash(io.BytesIO(payload), MAX_PIXELS)


def lookup(client: TestClient, headers: dict[str, str], query: str) -> dict[str, object]:
    answer = client.get(f"/api/v1/images/duplicates/lookup?{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_a_local_copy_finds_the_held_image_and_a_new_photo_finds_none(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "lookup@example.com")
    cat = picture("chelsea")
    held = upload(client, headers, {"cat": jpeg(cat), "rocket": jpeg(picture("rocket"))})
    analyse(container)
    # A copy made on the client's side (half size, low quality): hashed there, never sent.
    copy = hash_of(jpeg(cat.resize((450, 300)), quality=40))
    other = hash_of(jpeg(picture("coffee")))
    found = lookup(client, headers, f"dhash={copy.upper()}&dhash={other}")
    assert found["max_distance"] == 10
    matches = found["matches"]
    assert isinstance(matches, list)
    assert [m["dhash"] for m in matches] == [copy, other]  # in the order asked, lower case
    near = matches[0]["images"]
    assert [n["image"]["id"] for n in near] == [held["cat"]]
    assert 0 <= near[0]["distance"] <= 10
    assert matches[1]["images"] == []
    # max_distance narrows: a copy hashed at distance d is not found with a reach below d.
    gap = near[0]["distance"]
    if gap > 0:
        strict = lookup(client, headers, f"dhash={copy}&max_distance={gap - 1}")
        assert strict["matches"][0]["images"] == []  # type: ignore[index]
    exact = hash_of(jpeg(cat))
    same = lookup(client, headers, f"dhash={exact}&max_distance=0")
    assert [n["distance"] for n in same["matches"][0]["images"]] == [0]  # type: ignore[index]


def test_only_the_callers_analysed_images_match(client: TestClient, container: Container) -> None:
    alice = auth(client, "alice@example.com")
    bob = auth(client, "bob@example.com")
    cat = picture("chelsea")
    upload(client, bob, {"bob private": jpeg(cat)})
    upload(client, bob, {"bob public": jpeg(cat, quality=70)}, private=False)
    copy = hash_of(jpeg(cat, quality=50))
    analyse(container)
    # Bob's copies, private or public, are never Alice's near duplicates.
    assert lookup(client, alice, f"dhash={copy}")["matches"][0]["images"] == []  # type: ignore[index]
    assert len(lookup(client, bob, f"dhash={copy}")["matches"][0]["images"]) == 2  # type: ignore[index]
    # An image awaiting analysis has no hash yet: it is not matched.
    mine = upload(client, alice, {"alice cat": jpeg(cat)})
    assert lookup(client, alice, f"dhash={copy}")["matches"][0]["images"] == []  # type: ignore[index]
    analyse(container)
    found = lookup(client, alice, f"dhash={copy}&limit=1")["matches"][0]["images"]  # type: ignore[index]
    assert [n["image"]["id"] for n in found] == [mine["alice cat"]]


def test_limit_keeps_the_nearest(client: TestClient, container: Container) -> None:
    headers = auth(client, "limit@example.com")
    cat = picture("chelsea")
    upload(client, headers, {f"copy {q}": jpeg(cat, quality=q) for q in (30, 60, 90)})
    analyse(container)
    wanted = hash_of(jpeg(cat, quality=90))
    every = lookup(client, headers, f"dhash={wanted}")["matches"][0]["images"]  # type: ignore[index]
    assert len(every) == 3
    gaps = [n["distance"] for n in every]
    assert gaps == sorted(gaps)
    one = lookup(client, headers, f"dhash={wanted}&limit=1")["matches"][0]["images"]  # type: ignore[index]
    # Ids and distances: each answer signs its URLs anew, and two a second apart differ.
    assert [(n["image"]["id"], n["distance"]) for n in one] == [
        (n["image"]["id"], n["distance"]) for n in every[:1]
    ]


def test_bad_parameters_and_no_token(client: TestClient) -> None:
    headers = auth(client, "badlookup@example.com")
    good = "0123456789abcdef"
    many = "&".join(f"dhash={n:016x}" for n in range(101))
    for query in ("", "dhash=0123456789abcde", "dhash=0123456789abcdefa", "dhash=0123456789abcdeg",
                  f"dhash={good}&dhash=xyz", f"dhash={good}&max_distance=13",
                  f"dhash={good}&max_distance=-1", f"dhash={good}&limit=0",
                  f"dhash={good}&limit=101", f"dhash={good}&colour=red", many):  # fmt: skip
        answer = client.get(f"/api/v1/images/duplicates/lookup?{query}", headers=headers)
        assert answer.status_code == 400, query
        assert answer.json()["error"], query
    named = client.get("/api/v1/images/duplicates/lookup?dhash=xyz", headers=headers).json()
    assert "dhash" in named["message"]
    hundred = "&".join(f"dhash={n:016x}" for n in range(100))
    assert len(lookup(client, headers, hundred)["matches"]) == 100  # type: ignore[arg-type]
    assert client.get(f"/api/v1/images/duplicates/lookup?dhash={good}").status_code == 401


def test_the_client_hash_is_the_analysis_hash(client: TestClient, container: Container) -> None:
    """What the SDK computes from a file is what the analysis stores for it, bit for bit."""
    headers = auth(client, "bits@example.com")
    named: dict[str, bytes] = {}
    for name in ("chelsea", "coffee", "astronaut"):
        big = picture(name).resize((2400, 1600))  # decoded at reduced scale (JPEG draft)
        named[f"{name} jpeg"] = jpeg(big)
        out = io.BytesIO()
        big.convert("P").save(out, "PNG")
        named[f"{name} palette png"] = out.getvalue()
    turned = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    picture("rocket").save(turned, "JPEG", exif=exif)
    named["rocket exif-turned"] = turned.getvalue()
    named["phone heic"] = phone_heic()  # turned by libheif, not by EXIF
    ids = upload(client, headers, named)
    analyse(container)
    for name, payload in named.items():
        facts = client.get(f"/api/v1/images/{ids[name]}/expanded", headers=headers).json()
        stored = lookup(client, headers, f"dhash={hash_of(payload)}&max_distance=0")
        found = [n["image"]["id"] for n in stored["matches"][0]["images"]]  # type: ignore[index]
        assert ids[name] in found, (name, facts.get("analysis_error"))
