"""S3Store against moto's S3 server over real HTTP: the ObjectStore contract, URLs, failures."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials
from botocore.stub import Stubber

from bitimage.storage.keys import permanent_key, staging_key, user_prefixes
from bitimage.storage.ports import StoreUnavailable
from bitimage.storage.s3 import S3Store, s3_store_from_url
from bitimage.storage.sigv4 import SigV4Presigner
from tests.s3server import REGION, TEST_ENV, client, closed_port, create_buckets, moto_s3

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def new_bucket_names(separate_staging: bool) -> tuple[str, str | None]:
    main = f"bitimage-{uuid.uuid4().hex[:16]}"
    return main, (f"{main}-staging" if separate_staging else None)


@pytest.fixture(params=[True, False], ids=["separate-staging-bucket", "one-bucket"])
def store(request: pytest.FixtureRequest, endpoint: str) -> S3Store:
    main, staging = new_bucket_names(request.param)
    create_buckets(endpoint, [main] if staging is None else [main, staging])
    return s3_store_from_url(f"s3://{main}", staging, endpoint)


def upload(store: S3Store, key: str, data: bytes) -> None:
    answer = httpx.put(store.presign_put(key, 60), content=data)
    assert answer.status_code == 200, answer.text


def test_contract(store: S3Store) -> None:
    user = uuid.uuid4()
    image = uuid.uuid4()
    staged, permanent = staging_key(user, image), permanent_key(user, image)
    data = os.urandom(MIB + 12345)  # past the 1 MiB spool: open() has to go to disk
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    upload(store, staged, data)

    info = store.stat(staged)
    assert info is not None
    assert (info.key, info.size, info.md5) == (staged, len(data), md5)
    assert before <= info.modified_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert info.modified_at.tzinfo is dt.UTC
    assert store.md5(staged) == md5

    assert store.read_range(staged, 0, 64) == data[:64]
    assert store.read_range(staged, 1000, 300) == data[1000:1300]
    assert store.read_range(staged, -100, 100) == data[-100:]
    assert store.read_range(staged, -100, 10) == data[-100:-90]
    assert store.read_range(staged, len(data) - 5, 100) == data[-5:]
    assert store.read_range(staged, -(len(data) + 50), 10) == data[:10]
    assert store.read_range(staged, len(data) + 10, 5) == b""
    assert store.read_range(staged, 0, 0) == b""

    with store.open(staged) as stream:
        assert stream.seekable()
        assert stream.read() == data
        stream.seek(10)
        assert stream.read(5) == data[10:15]

    store.copy(staged, permanent)
    copied = store.stat(permanent)
    assert copied is not None
    assert (copied.size, copied.md5) == (len(data), md5)
    view = httpx.get(store.presign_get(permanent, 60))
    assert view.status_code == 200
    assert view.content == data

    permanent_prefix, staging_prefix, _ = user_prefixes(user)
    assert [i.key for i in store.list(staging_prefix)] == [staged]
    assert [i.key for i in store.list(permanent_prefix)] == [permanent]
    listed = {i.key: i for i in store.list("")}
    assert {staged, permanent} <= listed.keys()
    assert listed[permanent].size == len(data)

    store.delete([staged])
    assert store.stat(staged) is None
    assert store.stat(permanent) is not None
    store.delete([staged, staging_key(user, uuid.uuid4())])  # missing keys are fine
    store.delete([])
    assert store.delete_prefix(permanent_prefix) == 1
    assert list(store.list(permanent_prefix)) == []


def test_objects_live_in_their_bucket(store: S3Store, endpoint: str) -> None:
    user, image = uuid.uuid4(), uuid.uuid4()
    staged, permanent = staging_key(user, image), permanent_key(user, image)
    upload(store, staged, b"bytes")
    store.copy(staged, permanent)
    s3 = client(endpoint)
    staging_bucket = store.staging_bucket or store.bucket
    assert s3.head_object(Bucket=staging_bucket, Key=staged)["ContentLength"] == 5
    assert s3.head_object(Bucket=store.bucket, Key=permanent)["ContentLength"] == 5
    assert f"/{staging_bucket}/{staged}?" in store.presign_put(staged, 60)
    assert f"/{store.bucket}/{permanent}?" in store.presign_get(permanent, 60)


def test_an_empty_object(store: S3Store) -> None:
    key = staging_key(uuid.uuid4(), uuid.uuid4())
    upload(store, key, b"")
    assert store.read_range(key, 0, 64) == b""
    assert store.read_range(key, -64, 64) == b""
    with store.open(key) as stream:
        assert stream.read() == b""
    assert store.md5(key) == hashlib.md5(b"", usedforsecurity=False).hexdigest()


def test_missing_objects(store: S3Store) -> None:
    key = staging_key(uuid.uuid4(), uuid.uuid4())
    assert store.stat(key) is None
    with pytest.raises(FileNotFoundError):
        store.read_range(key, 0, 10)
    with pytest.raises(FileNotFoundError):
        store.read_range(key, -10, 10)
    with pytest.raises(FileNotFoundError):
        store.open(key)
    with pytest.raises(FileNotFoundError):
        store.md5(key)
    with pytest.raises(FileNotFoundError):
        store.copy(key, permanent_key(uuid.uuid4(), uuid.uuid4()))


def test_presigned_urls_are_checked(store: S3Store) -> None:
    key = staging_key(uuid.uuid4(), uuid.uuid4())
    put_url = store.presign_put(key, 60)
    upload(store, key, b"secret bytes")
    get_url = store.presign_get(key, 60)
    assert httpx.get(get_url).content == b"secret bytes"

    bucket = store.locate(key)
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    expired = store.presigner.presign("GET", bucket, key, 60, now=an_hour_ago)
    answer = httpx.get(expired)
    assert answer.status_code == 403
    assert "expired" in answer.text

    signature = get_url[-64:]
    flipped = format(int(signature[0], 16) ^ 1, "x")
    for tampered in (
        get_url[:-64] + flipped + signature[1:],  # another signature
        get_url.replace("X-Amz-Expires=60", "X-Amz-Expires=600"),  # a longer life
        get_url.replace(key, staging_key(uuid.uuid4(), uuid.uuid4())),  # another object
        put_url,  # the PUT URL used to GET
    ):
        answer = httpx.get(tampered)
        assert answer.status_code == 403, tampered
    assert httpx.put(get_url, content=b"overwrite").status_code == 403
    assert httpx.get(get_url).content == b"secret bytes"


def test_uploads_only_go_to_staging(store: S3Store) -> None:
    with pytest.raises(ValueError, match="staging"):
        store.presign_put(permanent_key(uuid.uuid4(), uuid.uuid4()), 60)


def test_a_multipart_object_is_hashed_by_reading_it(store: S3Store, endpoint: str) -> None:
    key = staging_key(uuid.uuid4(), uuid.uuid4())
    bucket = store.locate(key)
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    s3 = client(endpoint)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=part)["ETag"]
        for n, part in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )
    info = store.stat(key)
    assert info is not None
    assert info.md5 is None  # a multipart ETag is no MD5
    assert store.md5(key) == hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()


@pytest.mark.slow  # ~10 s: moto answers ~300 PUTs a second
def test_delete_prefix_goes_through_every_page(endpoint: str) -> None:
    main, staging = new_bucket_names(True)
    create_buckets(endpoint, [main, staging or ""])
    store = s3_store_from_url(f"s3://{main}", staging, endpoint)
    user, other = uuid.uuid4(), uuid.uuid4()
    keys = [permanent_key(user, uuid.uuid4()) for _ in range(2500)]
    survivors = [permanent_key(other, uuid.uuid4()), staging_key(user, uuid.uuid4())]
    s3 = client(endpoint, max_pool_connections=16)

    def put(key: str) -> None:
        s3.put_object(Bucket=store.locate(key), Key=key, Body=b"x")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, [*keys, *survivors]))
    foreign = f"users/{user}/notes.txt"  # not a key this service makes: left alone
    s3.put_object(Bucket=main, Key=foreign, Body=b"x")

    permanent_prefix, staging_prefix, _ = user_prefixes(user)
    assert sum(1 for _ in store.list(permanent_prefix)) == 2500
    assert store.delete_prefix(permanent_prefix) == 2500
    assert list(store.list(permanent_prefix)) == []
    left = s3.list_objects_v2(Bucket=main, Prefix=permanent_prefix).get("Contents", [])
    assert [item["Key"] for item in left] == [foreign]
    assert [i.key for i in store.list(staging_prefix)] == [survivors[1]]
    assert store.stat(survivors[0]) is not None
    assert store.delete_prefix(staging_prefix) == 1


def test_ping(store: S3Store) -> None:
    store.ping()


def test_ping_fails_for_a_missing_bucket(endpoint: str) -> None:
    main, staging = new_bucket_names(True)
    create_buckets(endpoint, [main])
    with pytest.raises(StoreUnavailable, match=str(staging)):
        s3_store_from_url(f"s3://{main}", staging, endpoint).ping()
    with pytest.raises(StoreUnavailable, match="not usable"):
        s3_store_from_url(f"s3://{main}-nope", None, endpoint).ping()


def test_ping_fails_for_a_closed_port() -> None:
    store = s3_store_from_url("s3://bucket", None, f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unreachable") as caught:
        store.ping()
    assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 15


def test_every_operation_reports_an_unreachable_store() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    s3 = client(url, retries={"max_attempts": 1}, connect_timeout=1)
    presigner = SigV4Presigner("testing", "testing", None, REGION, url, "path")
    store = S3Store(s3, presigner, "bucket", "staging-bucket")
    key = staging_key(uuid.uuid4(), uuid.uuid4())
    calls: list[Any] = [
        lambda: store.stat(key),
        lambda: store.read_range(key, 0, 10),
        lambda: store.open(key),
        lambda: store.md5(key),
        lambda: store.copy(key, permanent_key(uuid.uuid4(), uuid.uuid4())),
        lambda: store.delete([key]),
        lambda: store.delete_prefix("users/"),
        lambda: list(store.list("")),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            call()
    assert store.presign_get(key, 60).startswith(f"{url}/staging-bucket/{key}?")


def test_delete_reports_keys_s3_could_not_delete(endpoint: str) -> None:
    s3 = client(endpoint)
    presigner = SigV4Presigner("testing", "testing", None, REGION, endpoint, "path")
    store = S3Store(s3, presigner, "bucket")
    keys = [permanent_key(uuid.uuid4(), uuid.uuid4()) for _ in range(1001)]
    with Stubber(s3) as stub:
        stub.add_response("delete_objects", {}, {"Bucket": "bucket", "Delete": batch(keys[:1000])})
        stub.add_response(
            "delete_objects",
            {"Errors": [{"Key": keys[1000], "Code": "AccessDenied", "Message": "Access Denied"}]},
            {"Bucket": "bucket", "Delete": batch(keys[1000:])},
        )
        with pytest.raises(StoreUnavailable, match="AccessDenied"):
            store.delete(keys)
        stub.assert_no_pending_responses()


def batch(keys: list[str]) -> dict[str, Any]:
    return {"Objects": [{"Key": key} for key in keys], "Quiet": True}


def test_presigner_follows_rotated_credentials(endpoint: str) -> None:
    credentials = Credentials("testing", "testing", "first-token")
    presigner = SigV4Presigner("testing", "testing", "first-token", REGION, endpoint, "path")
    store = S3Store(client(endpoint), presigner, "bucket", None, credentials)
    key = permanent_key(uuid.uuid4(), uuid.uuid4())
    assert "first-token" in store.presign_get(key, 60)
    credentials.token = "second-token"
    assert "first-token" in store.presign_get(key, 60)  # read again once a minute only
    store._credentials_checked -= 61
    assert "second-token" in store.presign_get(key, 60)


def test_the_signer_url_is_accepted_by_the_server(endpoint: str) -> None:
    bucket, _ = new_bucket_names(False)
    create_buckets(endpoint, [bucket])
    signer = SigV4Presigner(
        TEST_ENV["AWS_ACCESS_KEY_ID"], TEST_ENV["AWS_SECRET_ACCESS_KEY"], None, REGION, endpoint
    )
    for key in (staging_key(uuid.uuid4(), uuid.uuid4()), "odd key/ü+%#?&=~.txt"):
        answer = httpx.put(signer.presign("PUT", bucket, key, 60), content=key.encode())
        assert answer.status_code == 200, answer.text
        answer = httpx.get(signer.presign("GET", bucket, key, 60))
        assert answer.status_code == 200, answer.text
        assert answer.content == key.encode()
        assert client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()


@pytest.mark.parametrize("url", ["http://bucket", "s3://", "s3://bucket/folder", "s3://b?x=1"])
def test_storage_url_must_name_a_bucket(url: str) -> None:
    with pytest.raises(ValueError, match="s3://BUCKET"):
        s3_store_from_url(url)
