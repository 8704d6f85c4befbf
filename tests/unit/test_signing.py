"""Property tests for URL signing and for the streaming MD5/size of the local store."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bitimage.storage.keys import is_valid_key, staging_key
from bitimage.storage.local import LocalSignedStore
from bitimage.storage.signing import UrlSigner

SECRET = b"s" * 32
keys = st.builds(lambda a, b: staging_key(a, b), st.uuids(), st.uuids())
methods = st.sampled_from(["GET", "PUT"])


@given(method=methods, key=keys, expires=st.integers(0, 2**40))
def test_signature_verifies_its_own_triple(method: str, key: str, expires: int) -> None:
    signer = UrlSigner(SECRET)
    assert signer.verify(method, key, expires, signer.signature(method, key, expires), now=expires)


@given(method=methods, key=keys, other_key=keys, expires=st.integers(1, 2**40))
def test_any_change_breaks_the_signature(
    method: str, key: str, other_key: str, expires: int
) -> None:
    signer = UrlSigner(SECRET)
    signature = signer.signature(method, key, expires)
    other_method = "GET" if method == "PUT" else "PUT"
    assert not signer.verify(other_method, key, expires, signature, now=0)
    assert not signer.verify(method, key, expires + 1, signature, now=0)
    assert not signer.verify(method, key, expires, signature, now=expires + 1)
    if other_key != key:
        assert not signer.verify(method, other_key, expires, signature, now=0)
    assert not UrlSigner(b"t" * 32).verify(method, key, expires, signature, now=0)


@given(garbage=st.text(max_size=100))
def test_garbage_signatures_fail(garbage: str) -> None:
    signer = UrlSigner(SECRET)
    assert not signer.verify("GET", staging_key(uuid.uuid4(), uuid.uuid4()), 10, garbage, now=0)


@given(text=st.text(max_size=80))
def test_only_generated_keys_are_valid(text: str) -> None:
    assert is_valid_key(text) == (text.count("/") in (2, 3) and _looks_generated(text))


def _looks_generated(text: str) -> bool:
    parts = text.split("/")
    if parts[0] == "staging":
        parts = parts[1:]
    try:
        return (
            len(parts) == 3
            and parts[0] == "users"
            and all(str(uuid.UUID(p)) == p for p in parts[1:])
        )
    except ValueError:
        return False


@settings(max_examples=50, deadline=None)
@given(chunks=st.lists(st.binary(max_size=5000), max_size=20))
def test_streaming_md5_and_size_match_the_bytes(chunks: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = LocalSignedStore(Path(folder), UrlSigner(SECRET), "http://127.0.0.1:8000")
        key = staging_key(uuid.uuid4(), uuid.uuid4())
        writer = store.open_writer(key)
        for chunk in chunks:
            writer.write(chunk)
        digest = writer.commit()
        data = b"".join(chunks)
        assert digest == hashlib.md5(data, usedforsecurity=False).hexdigest()
        info = store.stat(key)
        assert info is not None
        assert (info.size, info.md5) == (len(data), digest)
        assert store.path_for(key).read_bytes() == data
        assert list((Path(folder) / ".tmp").iterdir()) == []
