"""The in-memory store keeps the local store's contract: the same assertions run on both."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from bitimage.storage.keys import permanent_key, pinned_key, staging_key
from bitimage.storage.local import InvalidKey, LocalSignedStore
from bitimage.storage.ports import ObjectChanged, ObjectStore, StoreUnavailable
from bitimage.storage.signing import UrlSigner
from tests.fakes import MemoryStore
from tests.support import md5


@dataclass
class Backend:
    """A store, how bytes reach it (a finished upload) and which key a URL lets a method reach."""

    store: ObjectStore
    put: Callable[[str, bytes], None]
    grant: Callable[[str, str, float], str | None]


def _local(root: Path) -> Backend:
    store = LocalSignedStore(root, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")

    def put(key: str, data: bytes) -> None:
        store.open_writer(key).commit(data)

    def grant(url: str, method: str, now: float) -> str | None:
        # What the /storage route checks (storage/router.py).
        parts = urlsplit(url)
        key = unquote(parts.path.removeprefix("/storage/"))
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        expires, signature = int(query["expires"]), query["signature"]
        return key if store.signer.verify(method, key, expires, signature, now) else None

    return Backend(store, put, grant)


def _memory() -> Backend:
    store = MemoryStore()
    return Backend(store, store.put, store.grant)


@pytest.fixture(params=["local", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _local(tmp_path) if request.param == "local" else _memory()


def _keys() -> tuple[str, str, str]:
    user, image = uuid.uuid4(), uuid.uuid4()
    return staging_key(user, image), pinned_key(user, image), permanent_key(user, image)


def test_urls_grant_one_method_on_one_key_until_they_expire(backend: Backend) -> None:
    staged, _, kept = _keys()
    put_url = backend.store.presign_put(staged, 60)
    get_url = backend.store.presign_get(kept, 60)
    now = time.time()
    assert backend.grant(put_url, "PUT", now) == staged
    assert backend.grant(put_url, "GET", now) is None
    assert backend.grant(get_url, "GET", now) == kept
    assert backend.grant(get_url, "PUT", now) is None
    assert backend.grant(put_url, "PUT", now + 120) is None


def test_stat_reports_size_md5_and_time(backend: Backend) -> None:
    staged, _, _ = _keys()
    assert backend.store.stat(staged) is None
    backend.put(staged, b"hello world")
    info = backend.store.stat(staged)
    assert info is not None
    assert (info.key, info.size, info.md5) == (staged, 11, md5(b"hello world"))
    assert abs(info.modified_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert backend.store.md5(staged) == md5(b"hello world")
    with backend.store.open(staged) as handle:
        assert handle.read() == b"hello world"


def test_read_range_counts_negative_starts_from_the_end(backend: Backend) -> None:
    staged, _, _ = _keys()
    backend.put(staged, b"0123456789")
    read = backend.store.read_range
    assert read(staged, 2, 3) == b"234"
    assert read(staged, -3, 10) == b"789"
    assert read(staged, -100, 4) == b"0123"
    assert read(staged, 8, 10) == b"89"
    assert read(staged, 20, 5) == b""


def test_pin_moves_the_upload_and_keeps_the_first_pin(backend: Backend) -> None:
    staged, pinned, _ = _keys()
    assert backend.store.pin(staged, pinned) is None  # nothing uploaded
    backend.put(staged, b"first")
    info = backend.store.pin(staged, pinned)
    assert info is not None
    assert (info.key, info.size, info.md5) == (pinned, 5, md5(b"first"))
    assert backend.store.read_range(info.key, 0, 100, etag=info.etag) == b"first"
    assert backend.store.md5(info.key, etag=info.etag) == md5(b"first")
    backend.put(staged, b"second PUT")  # a later PUT cannot change what was pinned
    again = backend.store.pin(staged, pinned)
    assert again is not None
    assert backend.store.read_range(again.key, 0, 100) == b"first"


def test_copy_replaces_the_destination(backend: Backend) -> None:
    staged, pinned, kept = _keys()
    backend.put(staged, b"old")
    backend.put(pinned, b"new bytes")
    backend.store.copy(staged, kept)
    info = backend.store.pin(pinned, pinned)
    assert info is not None
    backend.store.copy(info.key, kept, etag=info.etag)
    copied = backend.store.stat(kept)
    assert copied is not None
    assert (copied.size, copied.md5) == (9, md5(b"new bytes"))
    assert backend.store.read_range(pinned, 0, 100) == b"new bytes"  # the source stays
    with pytest.raises(FileNotFoundError):
        backend.store.copy(_keys()[0], kept)


def test_list_delete_and_delete_prefix(backend: Backend) -> None:
    user = uuid.uuid4()
    mine = [permanent_key(user, uuid.uuid4()) for _ in range(3)]
    other = permanent_key(uuid.uuid4(), uuid.uuid4())
    for key in [*mine, other]:
        backend.put(key, key.encode())
    assert {info.key for info in backend.store.list(f"users/{user}/")} == set(mine)
    backend.store.delete([mine[0], staging_key(user, uuid.uuid4())])  # a missing one is fine
    assert backend.store.stat(mine[0]) is None
    assert backend.store.delete_prefix(f"users/{user}/") == 2
    assert list(backend.store.list(f"users/{user}/")) == []
    assert backend.store.stat(other) is not None


def test_only_generated_keys_are_accepted(backend: Backend) -> None:
    for bad in ("../etc/passwd", "users/x/y", "", "users/../../x"):
        with pytest.raises(InvalidKey):
            backend.store.stat(bad)
    backend.store.ping()  # a healthy store answers


def test_missing_objects_raise_on_read(backend: Backend) -> None:
    staged, _, _ = _keys()
    with pytest.raises(FileNotFoundError):
        backend.store.read_range(staged, 0, 1)
    with pytest.raises(FileNotFoundError):
        backend.store.open(staged)


# Beyond the local store: what the fake adds for service tests (S3's versions, an outage).


def test_the_memory_store_refuses_a_stale_version() -> None:
    store = MemoryStore()
    staged, _, kept = _keys()
    store.put(staged, b"first")
    info = store.stat(staged)
    assert info is not None
    store.put(staged, b"replaced")
    with pytest.raises(ObjectChanged):
        store.read_range(staged, 0, 10, etag=info.etag)
    with pytest.raises(ObjectChanged):
        store.copy(staged, kept, etag=info.etag)
    assert store.stat(kept) is None


def test_a_switched_off_memory_store_is_unavailable() -> None:
    store = MemoryStore()
    store.unavailable = True
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.stat(_keys()[0])
