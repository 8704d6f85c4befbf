"""LocalSignedStore on a real folder: MD5 and size kept as an xattr, or a sidecar without one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bitimage.storage.keys import permanent_key, staging_key
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner
from tests.support import md5


@pytest.mark.parametrize("xattrs", [True, False], ids=["xattr", "sidecar"])
def test_upload_copy_stat_delete(tmp_path: Path, xattrs: bool) -> None:
    store = LocalSignedStore(tmp_path, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")
    store._xattrs = xattrs  # as on a filesystem without user extended attributes
    user, image = uuid.uuid4(), uuid.uuid4()
    staged, kept = staging_key(user, image), permanent_key(user, image)
    data = b"\xff\xd8" + bytes(range(256)) * 500
    writer = store.open_writer(staged)
    for start in range(0, len(data), 1000):
        writer.write(data[start : start + 1000])
    digest = writer.commit()
    assert digest == md5(data)
    store.copy(staged, kept)
    store.delete([staged])
    info = store.stat(kept)
    assert info is not None
    assert (info.size, info.md5) == (len(data), digest)
    sidecars = [p for p in (tmp_path / ".meta").rglob("*") if p.is_file()]
    assert (len(sidecars) == 1) is not xattrs  # the staged upload's sidecar went with it
    assert store.read_range(kept, -2, 10) == data[-2:]
    store.delete([kept])
    assert store.stat(kept) is None
    assert [p for p in (tmp_path / ".meta").rglob("*") if p.is_file()] == []


def test_a_replaced_file_does_not_keep_a_stale_md5(tmp_path: Path) -> None:
    store = LocalSignedStore(tmp_path, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")
    key = staging_key(uuid.uuid4(), uuid.uuid4())
    writer = store.open_writer(key)
    writer.write(b"first")
    writer.commit()
    store.path_for(key).write_bytes(b"changed behind the store's back")
    info = store.stat(key)
    assert info is not None
    assert info.md5 is None  # the recorded size no longer matches: the record is not trusted
    assert store.md5(key) == md5(b"changed behind the store's back")
