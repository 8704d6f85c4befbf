"""The object-store port every backend implements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


class StoreUnavailable(Exception):
    """The store did not answer; the request may be retried later."""


class ObjectStore(Protocol):
    """Pre-signed URLs plus the few server-side operations the service needs."""

    def presign_put(self, key: str, ttl_seconds: int) -> str:
        """A URL a client may PUT raw bytes to until it expires."""
        ...

    def presign_get(self, key: str, ttl_seconds: int) -> str:
        """A URL anyone holding it may GET the object from until it expires."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """Size, MD5 (if the store knows it) and time of the object, or None if absent."""
        ...

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (negative: from the end)."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A seekable binary file of the object's bytes; the caller closes it."""
        ...

    def md5(self, key: str) -> str:
        """The hex MD5 of the object's bytes, computed by reading them if need be."""
        ...

    def copy(self, source: str, destination: str) -> None:
        """Copy an object server-side, replacing any object at `destination`."""
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
