"""One user can never read, list, change or delete another user's private images."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from tests.support import auth, make_jpeg, md5, notify_body, stage, upload


def test_private_images_stay_private(client: TestClient, container: Container) -> None:
    alice = auth(client, "alice@example.com")
    bob = auth(client, "bob@example.com")
    secret = upload(client, alice, [make_jpeg(seed=1)], tags=[{"name": "secret"}])[0]
    shared = upload(client, alice, [make_jpeg(seed=2)], is_private=False)[0]
    mine = upload(client, bob, [make_jpeg(seed=3)])[0]

    # read
    assert client.get(f"/api/v1/images/{secret['id']}/expanded", headers=bob).status_code == 404
    assert client.get(f"/api/v1/images/{secret['id']}/expanded").status_code == 404
    assert client.get(f"/api/v1/images/{shared['id']}/expanded", headers=bob).status_code == 200
    # list: Bob's private summary holds only Bob's images, public ones of others included never
    for query in ("", "name=img0", "tag=secret", f"hash={md5(make_jpeg(seed=1))}"):
        listed = client.get(f"/api/v1/images/private/summary?{query}", headers=bob).json()["images"]
        assert {image["id"] for image in listed} <= {mine["id"]}
    public = client.get("/api/v1/images/public/summary?name=img0").json()["images"]
    assert [image["id"] for image in public] == [shared["id"]]
    # change: Bob cannot confirm an id issued to Alice
    payload = make_jpeg(seed=4)
    alice_ids = stage(client, alice, [payload])
    answer = client.post("/api/v1/images", headers=bob, json=notify_body(alice_ids, [payload]))
    assert answer.status_code == 404
    answer = client.post("/api/v1/images", headers=bob, json=notify_body([secret["id"]], [payload]))
    assert answer.status_code == 404
    # delete: neither single nor mixed with his own
    assert client.delete(f"/api/v1/images?id={secret['id']}", headers=bob).status_code == 404
    both = client.delete(f"/api/v1/images?id={mine['id']}&id={shared['id']}", headers=bob)
    assert both.status_code == 404
    assert client.get(f"/api/v1/images/{mine['id']}/expanded", headers=bob).status_code == 200
    assert client.get(f"/api/v1/images/{secret['id']}/expanded", headers=alice).status_code == 200
    # the view URL of Alice's image cannot be turned into another key
    view = client.get(f"/api/v1/images/{mine['id']}/expanded", headers=bob).json()["view_url"]
    forged = view.replace(mine["id"], secret["id"])
    assert client.get(forged).status_code == 403
