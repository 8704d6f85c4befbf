"""The seed's walk-through through the real app, on SQLite and the local store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from tests.support import auth, make_jpeg, md5, stage, user_id


def test_seed_walkthrough(client: TestClient, container: Container) -> None:
    headers = auth(client, "shopify@email.com")
    me = user_id(client, headers)
    lettuce, cat = make_jpeg(seed=1), make_jpeg(80, 60, seed=2, fmt="PNG")
    ids = stage(client, headers, [lettuce, cat])
    body = {
        "images": [
            {
                "id": ids[0],
                "name": "nicelettuce",
                "hash": md5(lettuce),
                "is_private": False,
                "tags": [{"name": "leafy"}, {"name": "green"}, {"name": "salad"}],
            },
            {
                "id": ids[1],
                "name": "coolcat",
                "hash": md5(cat),
                "is_private": True,
                "tags": [{"name": "smallcat"}],
            },
        ]
    }
    confirmed = client.post("/api/v1/images", headers=headers, json=body)
    assert confirmed.status_code == 201, confirmed.text
    summaries = confirmed.json()["images"]
    assert [(s["name"], s["file_format"], s["is_private"]) for s in summaries] == [
        ("nicelettuce", "jpeg", False),
        ("coolcat", "png", True),
    ]
    assert client.get(f"/api/v1/users/{me}", headers=headers).json()["image_upload_count"] == 2

    def names(query: str) -> list[str]:
        answer = client.get(f"/api/v1/images/private/summary?{query}", headers=headers)
        assert answer.status_code == 200, answer.text
        return [image["name"] for image in answer.json()["images"]]

    assert names("name=nicelettuse") == ["nicelettuce"]  # a typo still finds it
    assert names("name=LETTUCE") == ["nicelettuce"]
    assert names("tag=salad") == ["nicelettuce"]
    assert names("tag=smallcat&name=cool") == ["coolcat"]
    assert names("tag=salad&name=cool") == []
    assert names("") == ["coolcat", "nicelettuce"]  # newest first

    public = client.get("/api/v1/images/public/summary").json()["images"]
    assert [image["name"] for image in public] == ["nicelettuce"]

    expanded = client.get(f"/api/v1/images/{ids[0]}/expanded").json()
    assert expanded["hash"] == md5(lettuce)
    assert expanded["width"] == 64
    assert expanded["height"] == 48
    assert expanded["analysis_status"] == "pending"
    assert sorted(tag["name"] for tag in expanded["tags"]) == ["green", "leafy", "salad"]
    view = client.get(expanded["view_url"])
    assert view.status_code == 200
    assert view.content == lettuce
    assert view.headers["content-type"] == "image/jpeg"
    assert view.headers["x-content-type-options"] == "nosniff"
    assert view.headers["etag"] == f'"{md5(lettuce)}"'

    assert client.delete(f"/api/v1/images?id={ids[0]}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/images/{ids[0]}/expanded").status_code == 404
    assert client.get(expanded["view_url"]).status_code == 404
    assert names("") == ["coolcat"]

    assert client.delete(f"/api/v1/users/{me}", headers=headers).status_code == 204
    assert list(container.store.list("")) == []
    assert client.get(f"/api/v1/users/{me}", headers=headers).status_code == 404
