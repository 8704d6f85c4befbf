"""PATCH /images/{id} (owner only; search sees the change at once) and GET /users/me."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from tests.integration.test_search_scope import _scoped
from tests.support import auth, make_jpeg, upload, user_id

ROUNDS = 20


def _image(client: TestClient, headers: dict[str, str], seed: int = 1) -> str:
    tags = [{"name": "sea"}, {"name": "sky"}]
    image = upload(client, headers, [make_jpeg(seed=seed)], is_private=True, tags=tags)[0]
    return str(image["id"])


def _ids(client: TestClient, path: str, headers: dict[str, str] | None = None) -> list[str]:
    answer = client.get(path, headers=headers or {})
    assert answer.status_code == 200, answer.text
    return [image["id"] for image in answer.json()["images"]]


def _patch(client: TestClient, headers: dict[str, str], image_id: str, body: Any) -> Any:
    return client.patch(f"/api/v1/images/{image_id}", headers=headers, json=body)


def test_a_new_name_is_searchable_at_once(client: TestClient) -> None:
    headers = auth(client, "rename@example.com")
    image_id = _image(client, headers)
    assert _ids(client, "/api/v1/images/private/summary?name=img0", headers) == [image_id]
    answer = _patch(client, headers, image_id, {"name": "Lighthouse at dusk"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "Lighthouse at dusk"
    assert answer.json()["is_private"] is True  # left out: unchanged
    assert [t["name"] for t in answer.json()["tags"]] == ["sea", "sky"]
    found = "/api/v1/images/private/summary?name={}"
    assert _ids(client, found.format("lighthouse"), headers) == [image_id]
    assert _ids(client, found.format("img0"), headers) == []  # the name notify gave it


def test_tags_are_replaced_and_searchable(client: TestClient) -> None:
    headers = auth(client, "retag@example.com")
    image_id = _image(client, headers)
    answer = _patch(client, headers, image_id, {"tags": [{"name": "Harbour"}, {"name": "sea"}]})
    assert answer.status_code == 200, answer.text
    assert [t["name"] for t in answer.json()["tags"]] == ["harbour", "sea"]
    by_tag = "/api/v1/images/private/summary?tag={}"
    assert _ids(client, by_tag.format("harbour"), headers) == [image_id]
    assert _ids(client, by_tag.format("sky"), headers) == []
    assert _patch(client, headers, image_id, {"tags": []}).json()["tags"] == []
    assert _ids(client, by_tag.format("sea"), headers) == []


def test_privacy_moves_the_image_into_and_out_of_the_public_summary(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "publish@example.com")
    image_id = _image(client, headers)
    public = "/api/v1/images/public/summary?tag=sea"
    assert _ids(client, public) == []
    assert _patch(client, headers, image_id, {"is_private": False}).status_code == 200
    assert _ids(client, public) == [image_id]
    assert client.get(f"/api/v1/images/{image_id}/expanded").status_code == 200  # no token
    assert _scoped(container)["image_tags"] == {image_id: True}
    assert _patch(client, headers, image_id, {"is_private": True}).status_code == 200
    assert _ids(client, public) == []
    assert client.get(f"/api/v1/images/{image_id}/expanded").status_code == 404
    assert _scoped(container)["image_tags"] == {image_id: False}


def test_only_the_owner_may_edit(client: TestClient) -> None:
    owner = auth(client, "owner-edit@example.com")
    other = auth(client, "other-edit@example.com")
    image_id = _image(client, owner)
    for headers, target in [(other, image_id), (owner, str(uuid.uuid4()))]:
        answer = _patch(client, headers, target, {"name": "mine now"})
        assert answer.status_code == 404, answer.text
        assert answer.json()["image_id"] == target
    assert _patch(client, {}, image_id, {"name": "x"}).status_code == 401
    expanded = client.get(f"/api/v1/images/{image_id}/expanded", headers=owner).json()
    assert expanded["name"] != "mine now"


def test_bad_bodies_are_refused_and_change_nothing(client: TestClient) -> None:
    headers = auth(client, "bad-edit@example.com")
    image_id = _image(client, headers)
    for body in [{"name": " "}, {"owner": "me"}, {"is_private": "maybe"},
                 {"tags": [{"name": "x"}] * 51}, {"tags": [{"name": "a\u0000b"}]}]:  # fmt: skip
        answer = _patch(client, headers, image_id, body)
        assert answer.status_code == 400, (body, answer.text)
        assert set(answer.json()) == {"error", "message", "detail"}
    for same in [{}, {"name": None, "tags": None, "is_private": None}]:  # null: unchanged
        unchanged = _patch(client, headers, image_id, same)
        assert unchanged.status_code == 200
        assert [t["name"] for t in unchanged.json()["tags"]] == ["sea", "sky"]
        assert unchanged.json()["name"] == "img0"


def test_racing_edits_leave_search_rows_in_step_with_the_image(
    client: TestClient, container: Container
) -> None:
    """Privacy and tag edits of one image at once, many times: every copy of its scope agrees."""
    headers = auth(client, "race-edit@example.com")
    image_id = _image(client, headers)
    errors: list[str] = []

    def edit(body: dict[str, Any], start: threading.Barrier) -> None:
        start.wait()
        answer = _patch(client, headers, image_id, body)
        if answer.status_code != 200:
            errors.append(answer.text)

    for n in range(ROUNDS):
        start = threading.Barrier(3)
        bodies = [{"is_private": n % 2 == 0}, {"tags": [{"name": f"t{n}"}]},
                  {"is_private": n % 3 == 0, "name": f"name {n}"}]  # fmt: skip
        threads = [threading.Thread(target=edit, args=(b, start)) for b in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        scoped = _scoped(container)  # asserts every row agrees with the image
        assert scoped["image_tags"].keys() == {image_id}
    assert errors == []


def test_users_me_is_the_callers_account_with_email(client: TestClient) -> None:
    headers = auth(client, "me@example.com")
    me = client.get("/api/v1/users/me", headers=headers)
    assert me.status_code == 200, me.text
    account = client.get(f"/api/v1/users/{user_id(client, headers)}", headers=headers).json()
    assert me.json() == {**account, "email": "me@example.com"}
    assert client.get("/api/v1/users/me").status_code == 401
