"""The object-store port every backend implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows of one object without reading it."""

    key: str
    size: int
    md5: str | None
    modified_at: datetime
    # The store's version tag (S3's ETag): reads and copies given it fail with ObjectChanged
    # once the object is replaced. None where the object cannot change (a pinned local file).
    etag: str | None = None


class StoreUnavailable(Exception):
    """The store did not answer; the request may be retried later."""


class ObjectChanged(Exception):
    """The object was replaced since the version a read or copy was pinned to."""


class ObjectStore(Protocol):
    """Pre-signed URLs plus the few server-side operations the service needs."""

    def presign_put(self, key: str, ttl_seconds: int) -> str:
        """A URL a client may PUT raw bytes to until it expires."""
        ...

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        """A URL anyone holding it may GET the object from until it expires."""
        ...

    def put(
        self, key: str, data: bytes, content_type: str, cache_control: str | None = None
    ) -> None:
        """Store bytes the service made (a rendition, a stripped copy) at `key`, durably.

        S3 keeps `content_type` and `cache_control` on the object and answers them on GETs;
        the local store's GET route derives both itself.
        """
        ...

    def presign_gets(self, keys: Sequence[str], ttl_seconds: int) -> list[str]:
        """GET URLs of `keys`, in order: one image's key and keys derived from it.

        The local store signs them once together, each URL reaching only the keys given;
        other stores sign each URL on its own.
        """
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, MD5 (if the store knows it) and time of the object, or None if absent."""
        ...

    def pin(self, key: str, private_key: str) -> ObjectInfo | None:
        """Freeze the object at `key` for checking and keeping; None if there is none.

        The answer names the object to read and copy from then on, and its version: the
        local store moves it to `private_key`, which no URL can write to (if an earlier pin
        left an object there, that one is kept); S3 leaves it in place and answers its
        ETag, to which later reads and the copy are conditioned.
        """
        ...

    def read_range(self, key: str, start: int, length: int, etag: str | None = None) -> bytes:
        """Up to `length` bytes from offset `start` (negative: from the end).

        With `etag`, raise ObjectChanged if the object is no longer that version.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """A seekable binary file of the object's bytes; the caller closes it."""
        ...

    def md5(self, key: str, etag: str | None = None) -> str:
        """The hex MD5 of the object's bytes, computed by reading them if need be."""
        ...

    def copy(self, source: str, destination: str, etag: str | None = None) -> None:
        """Copy an object server-side, replacing any object at `destination`.

        With `etag`, copy only that version of `source`: raise ObjectChanged otherwise,
        leaving nothing at `destination`.
        """
        ...

    def sync(self, keys: Iterable[str]) -> None:
        """Make the objects at `keys` (copied or pinned just now) survive a power cut.

        Called before the transaction that records them commits; the local store syncs
        their folders, a store that answers only once an object is durable does nothing.
        """
        ...

    def delete(self, keys: Iterable[str]) -> None:
        """Delete objects; missing ones are ignored."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix`; return how many."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object under `prefix`, in no particular order."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot be reached."""
        ...
