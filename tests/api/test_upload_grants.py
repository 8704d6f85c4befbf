"""Upload URLs are single-use, count against the quota and die with the account (issue 11,
defects 1b, 7, 8, 9): PUT refusals close the connection, HEAD works on signed GET URLs."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bitimage.bootstrap import Container
from bitimage.db.base import utcnow
from bitimage.images.models import UploadGrant
from tests.support import (
    app_client,
    auth,
    make_container,
    make_jpeg,
    make_settings,
    md5,
    notify_body,
    user_id,
)

PNG = make_jpeg(32, 24, seed=5, fmt="PNG")
OTHER = make_jpeg(32, 24, seed=6)


def _url(client: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
    assert answer.status_code == 200, answer.text
    entry = answer.json()["image_upload_urls"][0]
    return entry["url"], entry["image_id"]


def _refused(answer: object, status: int, *mentions: str, image_id: str | None = None) -> None:
    """An error answer that closes the connection (the body it refused was not read).

    `image_id` is the one image the refusal concerns; without it the body has no `image_id`.
    """
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    assert answer.headers["connection"] == "close"  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert set(body) == {"error", "message", "detail"} | ({"image_id"} if image_id else set())
    assert body.get("image_id") == image_id
    for mention in mentions:
        assert mention in body["message"]


def test_a_put_after_notify_began_is_refused_and_changes_nothing(client: TestClient) -> None:
    headers = auth(client, "once@example.com")
    url, image_id = _url(client, headers)
    assert client.put(url, content=PNG).status_code == 200
    wrong = notify_body([image_id], [PNG])
    wrong["images"][0]["hash"] = md5(b"not it")
    assert client.post("/api/v1/images", headers=headers, json=wrong).status_code == 422
    # The notify began: the checked upload is kept, the URL takes nothing more.
    _refused(client.put(url, content=OTHER), 409, image_id, image_id=image_id)
    answer = client.post("/api/v1/images", headers=headers, json=notify_body([image_id], [PNG]))
    assert answer.status_code == 201, answer.text
    view = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()["view_url"]
    assert client.get(view).content == PNG
    # After the confirm: still 409, and the image keeps its bytes.
    _refused(client.put(url, content=OTHER), 409, image_id, "confirmed", image_id=image_id)
    assert client.get(view).content == PNG


def test_a_notify_before_any_put_leaves_the_url_open(client: TestClient) -> None:
    headers = auth(client, "early@example.com")
    url, image_id = _url(client, headers)
    body = notify_body([image_id], [PNG])
    assert client.post("/api/v1/images", headers=headers, json=body).status_code == 404
    assert client.put(url, content=PNG).status_code == 200
    assert client.post("/api/v1/images", headers=headers, json=body).status_code == 201


def test_a_deleted_accounts_urls_answer_403_at_once(client: TestClient) -> None:
    headers = auth(client, "leaving@example.com")
    url, image_id = _url(client, headers)
    assert client.put(url, content=PNG).status_code == 200
    me = user_id(client, headers)
    assert client.delete(f"/api/v1/users/{me}", headers=headers).status_code == 204
    _refused(client.put(url, content=PNG), 403, image_id=image_id)


def test_a_claim_blocks_a_second_notify_until_it_goes_stale(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "claims@example.com")
    url, image_id = _url(client, headers)
    assert client.put(url, content=PNG).status_code == 200
    body = notify_body([image_id], [PNG])

    def claim(age: timedelta) -> None:
        with container.database.transaction() as session:
            session.execute(update(UploadGrant).values(claimed_at=utcnow() - age))

    claim(timedelta(seconds=1))  # a notify of this id is running
    answer = client.post("/api/v1/images", headers=headers, json=body)
    assert answer.status_code == 409, answer.text
    assert "being confirmed" in answer.json()["message"]
    assert answer.json()["image_id"] == image_id
    _refused(client.put(url, content=OTHER), 409, image_id=image_id)
    stale = timedelta(seconds=container.settings.notify_claim_seconds + 1)
    claim(stale)  # its process died long ago: the claim is taken over
    assert client.post("/api/v1/images", headers=headers, json=body).status_code == 201


def _ask_at_once(client: TestClient, headers: dict[str, str], count: int) -> list[int]:
    """`count` requests for one upload URL each, released together; their statuses."""
    go = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def ask() -> None:
        go.wait()
        answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def test_live_urls_count_against_the_image_limit_under_concurrency(
    tmp_path: Path, database_url: str
) -> None:
    """12 concurrent requests of one user with a limit of 5: exactly 5 URLs, in every round."""
    container = make_container(
        make_settings(tmp_path, database_url=database_url, default_image_upload_limit=5)
    )
    with app_client(container) as client:
        for round_ in range(4):
            headers = auth(client, f"quota{round_}@example.com")
            assert sorted(_ask_at_once(client, headers, 12)) == [200] * 5 + [403] * 7
            owner = uuid.UUID(user_id(client, headers))
            with container.database.transaction(write=False) as session:
                held = session.scalar(select(func.count()).where(UploadGrant.user_id == owner))
            assert held == 5
    container.close()


def test_open_urls_are_capped_without_a_limit(tmp_path: Path, database_url: str) -> None:
    container = make_container(
        make_settings(tmp_path, database_url=database_url, max_open_uploads=3)
    )
    with app_client(container) as client:
        headers = auth(client, "many@example.com")
        ask = "/api/v1/images/upload_urls?image_count={}"
        assert client.get(ask.format(2), headers=headers).status_code == 200
        answer = client.get(ask.format(2), headers=headers)
        assert answer.status_code == 429, answer.text
        assert answer.json()["error"] == "Too many requests"
        ttl = container.settings.upload_url_ttl_seconds
        assert 1 <= int(answer.headers["retry-after"]) <= ttl
        assert client.get(ask.format(1), headers=headers).status_code == 200
    container.close()


def test_oversized_and_forged_puts_close_the_connection(tmp_path: Path, database_url: str) -> None:
    container = make_container(
        make_settings(tmp_path, database_url=database_url, max_image_bytes=1000)
    )
    with app_client(container) as client:
        headers = auth(client, "closing@example.com")
        url, image_id = _url(client, headers)
        _refused(client.put(url, content=b"x" * 1001), 413, image_id=image_id)
        _refused(client.put(url.replace("signature=", "signature=0"), content=b"x"), 403)
    container.close()


def test_head_works_wherever_get_does(client: TestClient, container: Container) -> None:
    headers = auth(client, "head@example.com")
    url, image_id = _url(client, headers)
    assert client.put(url, content=PNG).status_code == 200
    answer = client.post("/api/v1/images", headers=headers, json=notify_body([image_id], [PNG]))
    view = answer.json()["images"][0]["view_url"]
    got, head = client.get(view), client.head(view)
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "x-content-type-options"):
        assert head.headers[name] == got.headers[name]
    assert head.headers["content-length"] == str(len(PNG))
    assert client.head(view.replace("signature=", "signature=0")).status_code == 403
    assert client.head(url).status_code == 403  # a PUT signature is not a GET one
    assert client.head(view, headers={"If-None-Match": got.headers["etag"]}).status_code == 304


def test_the_sweeper_removes_pinned_uploads_of_expired_urls(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "swept@example.com")
    url, image_id = _url(client, headers)
    assert client.put(url, content=PNG).status_code == 200
    body = notify_body([image_id], [OTHER])  # the wrong hash: 422, the upload stays pinned
    assert client.post("/api/v1/images", headers=headers, json=body).status_code == 422
    assert [info.key.split("/")[0] for info in container.store.list("")] == ["pinned"]
    sweeper = container.sweeper
    later = utcnow() + timedelta(seconds=container.settings.upload_url_ttl_seconds * 2)
    sweeper.clock = lambda: later
    sweeper.sweep()
    assert list(container.store.list("")) == []
