"""A confirmed image's stored bytes are exactly the bytes notify checked (issue 11, defects 1, 6).

A second PUT to the same upload URL while notify runs must never slip other bytes under a
row: on the local store the URL takes no PUT once notify began (409) and notify keeps the
object it moved aside; on S3 (where PUTs cannot be refused) reads and the copy are pinned to
the checked ETag, and a swap makes the notify answer 409 with nothing confirmed. Each case
runs once with the PUT forced into the window (deterministic), and once as a stress test.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bitimage.bootstrap import Container
from bitimage.images.models import Image
from bitimage.imaging import inspect_image
from tests.s3server import create_buckets, moto_s3
from tests.support import (
    app_client,
    auth,
    make_container,
    make_jpeg,
    make_settings,
    md5,
    notify_body,
)

HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
PNG = make_jpeg(40, 30, seed=1, fmt="PNG")
GIF = make_jpeg(20, 20, seed=2, fmt="GIF")

Put = Callable[[str, bytes], int]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[tuple[Container, TestClient, Put]]:
    """A container on the local store or on moto's S3; `put` sends bytes to an upload URL."""
    overrides: dict[str, object] = {"database_url": database_url}
    if request.param == "s3":
        url: str = request.getfixturevalue("endpoint")
        bucket = f"bitimage-{uuid.uuid4().hex[:12]}"
        create_buckets(url, [bucket])
        overrides.update(storage_url=f"s3://{bucket}", s3_endpoint_url=url)
    container = make_container(make_settings(tmp_path / "data", **overrides))
    with app_client(container, raise_server_exceptions=False) as client:
        s3 = httpx.Client()

        def put(url: str, data: bytes) -> int:
            sender = client if url.startswith("http://127.0.0.1:8000/") else s3
            return sender.put(url, content=data).status_code

        yield container, client, put
        s3.close()
    container.close()


def _upload_url(client: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
    assert answer.status_code == 200, answer.text
    entry = answer.json()["image_upload_urls"][0]
    return entry["url"], entry["image_id"]


def assert_rows_describe_their_bytes(container: Container) -> int:
    """Every confirmed row's stored bytes have exactly its MD5, size and format; how many."""
    with container.database.transaction(write=False) as session:
        rows = list(session.scalars(select(Image)))
    for row in rows:
        with container.store.open(row.storage_key) as handle:
            data = handle.read()
        found = inspect_image(io.BytesIO(data), container.settings.max_image_pixels)
        assert (md5(data), len(data), found.file_format) == (
            row.hash,
            row.size_bytes,
            row.file_format,
        ), f"image {row.id}: the row does not describe the stored bytes"
        assert (found.width, found.height) == (row.width, row.height)
    return len(rows)


class PutDuring:
    """Delegates to the real store, but PUTs other bytes to the upload URL just before the
    first call of `method`: between the check and the copy ("copy"), or during the check
    ("read_range")."""

    def __init__(self, real: Any, method: str, put: Callable[[], int]) -> None:
        self._real, self._method, self._put = real, method, put
        self._fired = False
        self.answers: list[int] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name != self._method:
            return attribute

        def racing(*args: Any, **kwargs: Any) -> Any:
            if not self._fired:
                self._fired = True
                self.answers.append(self._put())
            return attribute(*args, **kwargs)

        return racing


@pytest.mark.parametrize("window", ["copy", "read_range"])
@pytest.mark.parametrize("other", [HTML, GIF], ids=["html", "gif"])
def test_a_put_inside_notify_never_changes_the_confirmed_bytes(
    backend: tuple[Container, TestClient, Put],
    monkeypatch: pytest.MonkeyPatch,
    window: str,
    other: bytes,
) -> None:
    container, client, put = backend
    headers = auth(client, "racer@example.com")
    url, image_id = _upload_url(client, headers)
    assert put(url, PNG) == 200
    racer = PutDuring(container.store, window, lambda: put(url, other))
    monkeypatch.setattr(container.uploads, "store", racer)
    answer = client.post("/api/v1/images", headers=headers, json=notify_body([image_id], [PNG]))
    monkeypatch.undo()

    assert len(racer.answers) == 1
    if container.local_store is not None:
        # Local store: the URL is closed once notify began; the PNG is what was kept.
        assert racer.answers == [409]
        assert answer.status_code == 201, answer.text
    else:
        # S3 took the PUT; the pinned ETag no longer matches: nothing is confirmed.
        assert racer.answers == [200]
        assert answer.status_code == 409, answer.text
        assert "changed while it was being confirmed" in answer.json()["message"]
        assert assert_rows_describe_their_bytes(container) == 0
        # The new bytes are what the URL holds now: notified with their MD5, they are checked.
        retry = notify_body([image_id], [other])
        again = client.post("/api/v1/images", headers=headers, json=retry)
        assert again.status_code == (201 if other is GIF else 415), again.text
    assert assert_rows_describe_their_bytes(container) == (
        1 if container.local_store is not None or other is GIF else 0
    )


def test_puts_racing_notifies_never_confirm_other_bytes(
    backend: tuple[Container, TestClient, Put],
) -> None:
    """Hundreds of rounds: a notify of the PNG against PUTs of HTML, a GIF and the PNG."""
    container, client, put = backend
    headers = auth(client, "stress@example.com")
    rounds, lanes = 240, 4
    statuses: list[int] = []
    put_statuses: list[int] = []
    lock = threading.Lock()

    def one_round(n: int) -> None:
        url, image_id = _upload_url(client, headers)
        assert put(url, PNG) == 200
        go = threading.Barrier(2)

        def putter() -> None:
            go.wait()
            # Rounds that end on the PNG again can confirm (on S3: same bytes, same ETag).
            for data in (*(HTML, GIF, PNG)[n % 3 :], (PNG, HTML)[n % 2]):
                status = put(url, data)
                with lock:
                    put_statuses.append(status)

        thread = threading.Thread(target=putter)
        thread.start()
        go.wait()
        answer = client.post("/api/v1/images", headers=headers, json=notify_body([image_id], [PNG]))
        thread.join(30)
        with lock:
            statuses.append(answer.status_code)

    with ThreadPoolExecutor(lanes) as pool:
        list(pool.map(one_round, range(rounds)))
    # 415/422: a PUT landed before the check; 409: after it (S3). Never a 5xx.
    assert set(statuses) <= {201, 409, 415, 422}, statuses
    assert set(put_statuses) <= {200, 409}, put_statuses
    confirmed = assert_rows_describe_their_bytes(container)
    assert confirmed == statuses.count(201) > 0


def test_concurrent_notifies_of_one_id_confirm_it_once(
    backend: tuple[Container, TestClient, Put],
) -> None:
    """Rounds of 8 notifies of the same id at once: one 201, seven 409, no 5xx."""
    container, client, put = backend
    headers = auth(client, "twins@example.com")
    for _ in range(25):
        url, image_id = _upload_url(client, headers)
        assert put(url, PNG) == 200
        body = notify_body([image_id], [PNG])
        go = threading.Barrier(8)

        def notify(_: int, body: dict[str, Any] = body, go: threading.Barrier = go) -> int:
            go.wait()
            return client.post("/api/v1/images", headers=headers, json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(notify, range(8)))
        assert statuses == [201] + [409] * 7
    assert assert_rows_describe_their_bytes(container) == 25


def test_a_notify_inside_a_notify_is_a_conflict(
    backend: tuple[Container, TestClient, Put], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second notify run in full while the first is reading: 409 for it, 201 for the first."""
    container, client, put = backend
    headers = auth(client, "nested@example.com")
    url, image_id = _upload_url(client, headers)
    assert put(url, PNG) == 200
    body = notify_body([image_id], [PNG])

    def second_notify() -> int:
        return client.post("/api/v1/images", headers=headers, json=body).status_code

    racer = PutDuring(container.store, "read_range", second_notify)
    monkeypatch.setattr(container.uploads, "store", racer)
    first = client.post("/api/v1/images", headers=headers, json=body)
    assert (first.status_code, racer.answers) == (201, [409]), first.text
    assert assert_rows_describe_their_bytes(container) == 1


class DeleteDuringCheck:
    """Delegates to the real store, but deletes the object before the first ranged read."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.deleted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def read_range(self, key: str, *args: Any) -> bytes:
        if not self.deleted:
            self.deleted.append(key)
            self._real.delete([key])
        data: bytes = self._real.read_range(key, *args)
        return data


def test_an_upload_that_vanishes_during_the_check_is_a_conflict(
    backend: tuple[Container, TestClient, Put], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a 500, nor a 415 for a 'corrupt' image: the client is told to notify again."""
    container, client, put = backend
    headers = auth(client, "vanish@example.com")
    url, image_id = _upload_url(client, headers)
    assert put(url, PNG) == 200
    vanishing = DeleteDuringCheck(container.store)
    monkeypatch.setattr(container.uploads, "store", vanishing)
    answer = client.post("/api/v1/images", headers=headers, json=notify_body([image_id], [PNG]))
    assert len(vanishing.deleted) == 1
    assert answer.status_code == 409, answer.text
    assert assert_rows_describe_their_bytes(container) == 0
