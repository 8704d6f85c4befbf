"""A seekable file over a stored object that fetches only the byte ranges it is asked for.

Checking an upload needs its first bytes (format sniff, header decode) and its last ones (a
JPEG's end marker); reading those as ranged GETs instead of downloading the object keeps
notify cheap on S3. Sequential reads past the cache fetch growing ranges, so a full decode,
when one is needed, costs a handful of requests rather than one per 64 KiB.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Protocol

from bitimage.storage.ports import ObjectChanged, ObjectStore

FIRST_FETCH = 64 * 1024
MAX_FETCH = 8 * 1024 * 1024
_KEPT_BLOCKS = 3  # the head, the tail and the block being read


class RangeSource(Protocol):
    """Anything that serves byte ranges of an object (every ObjectStore does)."""

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start`."""
        ...


class RangedReader(io.RawIOBase):
    """Read-only, seekable view of `key` (of known `size`) through ranged reads."""

    def __init__(self, source: RangeSource, key: str, size: int) -> None:
        super().__init__()
        self._source, self._key, self._size = source, key, size
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._next_fetch = FIRST_FETCH
        self._last_end = -1
        self.fetches = 0

    def readable(self) -> bool:
        """Always."""
        return True

    def seekable(self) -> bool:
        """Always."""
        return True

    def tell(self) -> int:
        """The current offset."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to an offset, as for any file."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill `buffer` from the current offset; 0 at the end of the object."""
        if self._pos >= self._size or len(buffer) == 0:
            return 0
        start, block = self._block_at(self._pos)
        chunk = block[self._pos - start : self._pos - start + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def _block_at(self, position: int) -> tuple[int, bytes]:
        for start, block in self._blocks.items():
            if start <= position < start + len(block):
                self._blocks.move_to_end(start)
                return start, block
        # Reading on from the last fetch: the caller is streaming, so fetch more each time.
        sequential = position == self._last_end
        self._next_fetch = min(MAX_FETCH, self._next_fetch * 2) if sequential else FIRST_FETCH
        block = self._source.read_range(self._key, position, self._next_fetch)
        if not block:
            raise OSError(f"{self._key} ended at {position}, before its size {self._size}")
        self.fetches += 1
        self._last_end = position + len(block)
        self._blocks[position] = block
        while len(self._blocks) > _KEPT_BLOCKS:
            self._blocks.popitem(last=False)
        return position, block


class PinnedRanges:
    """Ranged reads of one version of an object: ObjectChanged once it is replaced or gone."""

    def __init__(self, store: ObjectStore, etag: str | None) -> None:
        self._store, self._etag = store, etag

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` of the pinned version."""
        try:
            return self._store.read_range(key, start, length, self._etag)
        except FileNotFoundError as exc:
            # Not an OSError for the decoder to take for a corrupt image: the object went.
            raise ObjectChanged(f"{key} is gone") from exc
