"""The API on an S3 bucket (moto's server over HTTP), on both databases: the upload flow,
a bucket that refuses a copy (nothing half-stored), deletion and the staging sweeper."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from bitimage.bootstrap import Container
from bitimage.config import SettingsError, load_settings
from bitimage.db.base import utcnow
from tests.s3server import create_buckets, moto_s3
from tests.support import (
    app_client,
    auth,
    make_container,
    make_jpeg,
    make_settings,
    notify_body,
    user_id,
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture
def s3_container(tmp_path: Path, database_url: str, endpoint: str) -> Iterator[Container]:
    bucket = f"bitimage-{uuid.uuid4().hex[:12]}"
    create_buckets(endpoint, [bucket])
    settings = make_settings(
        tmp_path / "data",
        database_url=database_url,
        storage_url=f"s3://{bucket}",
        s3_endpoint_url=endpoint,
    )
    built = make_container(settings)
    yield built
    built.close()


@pytest.fixture
def s3_client(s3_container: Container) -> Iterator[TestClient]:
    with app_client(s3_container) as client:
        yield client


def _stage(client: TestClient, headers: dict[str, str], payloads: list[bytes]) -> list[str]:
    answer = client.get(f"/api/v1/images/upload_urls?image_count={len(payloads)}", headers=headers)
    urls = answer.json()["image_upload_urls"]
    for entry, data in zip(urls, payloads, strict=True):
        assert not entry["url"].startswith("http://127.0.0.1:8000")  # straight to the bucket
        assert httpx.put(entry["url"], content=data).status_code == 200
    return [entry["image_id"] for entry in urls]


def _keys(container: Container) -> set[str]:
    return {info.key for info in container.store.list("")}


def test_upload_view_delete_on_s3(s3_client: TestClient, s3_container: Container) -> None:
    headers = auth(s3_client, "s3@example.com")
    owner = user_id(s3_client, headers)
    payloads = [make_jpeg(seed=n) for n in range(3)]
    ids = _stage(s3_client, headers, payloads)
    assert _keys(s3_container) == {f"staging/users/{owner}/{i}" for i in ids}
    answer = s3_client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
    assert answer.status_code == 201, answer.text
    assert _keys(s3_container) == {f"users/{owner}/{i}" for i in ids}  # staging emptied
    shown = s3_client.get(f"/api/v1/images/{ids[0]}/expanded", headers=headers).json()
    assert httpx.get(shown["view_url"]).content == payloads[0]

    assert s3_client.delete(f"/api/v1/images?id={ids[0]}", headers=headers).status_code == 204
    assert _keys(s3_container) == {f"users/{owner}/{i}" for i in ids[1:]}
    _stage(s3_client, headers, [make_jpeg(seed=9)])  # a staged upload, never confirmed
    assert s3_client.delete(f"/api/v1/users/{owner}", headers=headers).status_code == 204
    assert _keys(s3_container) == set()


def _refuse_second_copy(container: Container) -> list[str]:
    """The bucket answers 403 AccessDenied to the second CopyObject (as a bucket policy would)."""
    calls: list[str] = []

    def refuse(**kwargs: Any) -> Any:
        calls.append(str(kwargs.get("model", "CopyObject")))
        if len(calls) == 2:
            error = {"Code": "AccessDenied", "Message": "refused by the bucket policy"}
            return SimpleNamespace(status_code=403), {
                "Error": error,
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
        return None

    client = container.store.client  # type: ignore[attr-defined]
    client.meta.events.register("before-call.s3.CopyObject", refuse)
    return calls


def test_a_bucket_that_refuses_a_copy_stores_nothing_half(
    s3_client: TestClient, s3_container: Container
) -> None:
    headers = auth(s3_client, "refuse@example.com")
    owner = user_id(s3_client, headers)
    payloads = [make_jpeg(seed=n) for n in range(3)]
    ids = _stage(s3_client, headers, payloads)
    calls = _refuse_second_copy(s3_container)
    answer = s3_client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
    assert len(calls) == 2
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    # No image rows, no permanent bytes: the staged uploads wait to be notified again.
    listed = s3_client.get("/api/v1/images/private/summary", headers=headers).json()
    assert listed["images"] == []
    assert _keys(s3_container) == {f"staging/users/{owner}/{i}" for i in ids}
    again = s3_client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
    assert again.status_code == 201, again.text
    assert _keys(s3_container) == {f"users/{owner}/{i}" for i in ids}


def test_the_sweeper_clears_expired_staging_uploads_on_s3(
    s3_client: TestClient, s3_container: Container
) -> None:
    headers = auth(s3_client, "sweep@example.com")
    owner = user_id(s3_client, headers)
    kept = _stage(s3_client, headers, [make_jpeg(seed=1)])
    body = notify_body(kept, [make_jpeg(seed=1)])
    assert s3_client.post("/api/v1/images", headers=headers, json=body).status_code == 201
    _stage(s3_client, headers, [make_jpeg(seed=2), make_jpeg(seed=3)])  # never confirmed
    sweeper = s3_container.sweeper
    later = utcnow() + timedelta(seconds=s3_container.settings.upload_url_ttl_seconds * 2)
    sweeper.clock = lambda: later
    sweeper.sweep()
    assert _keys(s3_container) == {f"users/{owner}/{kept[0]}"}


def test_presigned_urls_name_the_public_endpoint(
    tmp_path: Path, database_url: str, endpoint: str
) -> None:
    """BITIMAGE_S3_PUBLIC_ENDPOINT_URL: clients get its host, the server keeps the internal one.

    moto listens on 127.0.0.1; "localhost" stands for the public name of the same service, as
    http://127.0.0.1:9000 does for compose's http://minio:9000.
    """
    bucket = f"bitimage-{uuid.uuid4().hex[:12]}"
    create_buckets(endpoint, [bucket])
    internal = urlsplit(endpoint)
    public = f"http://localhost:{internal.port}"
    settings = make_settings(
        tmp_path / "data",
        database_url=database_url,
        storage_url=f"s3://{bucket}",
        s3_endpoint_url=endpoint,
        s3_public_endpoint_url=public,
    )
    built = make_container(settings)
    try:
        assert built.store.client.meta.endpoint_url == endpoint  # type: ignore[attr-defined]
        with app_client(built) as client:
            headers = auth(client, "public@example.com")
            payload = make_jpeg(seed=4)
            answer = client.get("/api/v1/images/upload_urls?image_count=1", headers=headers)
            entry = answer.json()["image_upload_urls"][0]
            assert urlsplit(entry["url"]).netloc == f"localhost:{internal.port}"
            # Signed for the public host, accepted by the service behind it.
            assert httpx.put(entry["url"], content=payload).status_code == 200
            body = notify_body([entry["image_id"]], [payload])
            confirmed = client.post("/api/v1/images", headers=headers, json=body)
            assert confirmed.status_code == 201, confirmed.text  # the server read it internally
            shown = client.get(f"/api/v1/images/{entry['image_id']}/expanded", headers=headers)
            view_url = shown.json()["view_url"]
            assert urlsplit(view_url).netloc == f"localhost:{internal.port}"
            assert httpx.get(view_url).content == payload
    finally:
        built.close()


def test_a_public_endpoint_needs_s3_storage(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="BITIMAGE_S3_PUBLIC_ENDPOINT_URL needs an s3://"):
        load_settings(data_dir=tmp_path, s3_public_endpoint_url="http://localhost:9000")


def test_the_web_page_may_reach_the_store_and_nothing_else(
    s3_client: TestClient, endpoint: str
) -> None:
    policy = s3_client.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["connect-src"] == f"'self' {endpoint}"
    assert directives["img-src"] == f"'self' data: blob: {endpoint}"
    assert directives["script-src"] == "'self'"
