"""Keys derived from an image's key, and the local store's scoped URLs: one signature reaches
exactly the keys it was given, of that one image."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from bitimage.storage.keys import (
    derived_keys,
    family_of,
    image_id_of,
    is_valid_key,
    permanent_key,
    preview_key,
    public_key,
    staging_key,
    thumbnail_key,
)
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner


def test_derived_keys_are_valid_and_name_their_image() -> None:
    user, image = uuid.uuid4(), uuid.uuid4()
    key = permanent_key(user, image)
    assert derived_keys(key) == (thumbnail_key(key), preview_key(key), public_key(key))
    for derived in derived_keys(key):
        assert is_valid_key(derived)
        assert image_id_of(derived) == image
    families = [family_of(k) for k in (key, *derived_keys(key))]
    assert families == [(key, "o"), (key, "t"), (key, "p"), (key, "s")]
    assert not is_valid_key(staging_key(user, image) + ".thumb.webp")  # nothing derives there
    assert not is_valid_key(key + ".other")
    assert family_of(staging_key(user, image)) is None


def _reaches(store: LocalSignedStore, url: str, key: str) -> bool:
    """What the /storage route checks of a scoped GET URL (storage/router.py)."""
    query = parse_qs(urlsplit(url).query)
    scope, expires, signature = query["scope"][0], int(query["expires"][0]), query["signature"][0]
    family = family_of(key)
    return (
        family is not None
        and family[1] in scope
        and store.signer.verify("GET", f"{family[0]}|{scope}", expires, signature, time.time())
    )


def test_one_signature_reaches_the_keys_given_and_no_other(tmp_path: Path) -> None:
    store = LocalSignedStore(tmp_path, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")
    key = permanent_key(uuid.uuid4(), uuid.uuid4())
    wanted = [public_key(key), thumbnail_key(key), preview_key(key)]
    urls = store.presign_gets(wanted, 60)
    assert [unquote(urlsplit(u).path).removeprefix("/storage/") for u in urls] == wanted
    assert len({parse_qs(urlsplit(u).query)["signature"][0] for u in urls}) == 1
    for url, target in zip(urls, wanted, strict=True):
        assert _reaches(store, url, target)
        assert not _reaches(store, url, key)  # a stranger's URLs never reach the original
        other = permanent_key(uuid.uuid4(), uuid.uuid4())
        assert not _reaches(store, url, thumbnail_key(other))  # nor another image's
    assert "scope=" not in store.presign_gets([key], 60)[0]  # one key: a plain URL


def test_keys_of_two_images_are_signed_one_by_one(tmp_path: Path) -> None:
    store = LocalSignedStore(tmp_path, UrlSigner(b"k" * 32), "http://127.0.0.1:8000")
    first, second = (permanent_key(uuid.uuid4(), uuid.uuid4()) for _ in range(2))
    urls = store.presign_gets([first, thumbnail_key(second)], 60)
    assert all("scope=" not in url for url in urls)
