"""Making and keeping renditions and stripped copies in the store (no transaction here)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from bitimage.renditions.render import render
from bitimage.renditions.strip import strip
from bitimage.storage.keys import derived_keys, preview_key, public_key, thumbnail_key
from bitimage.storage.ports import ObjectStore

WEBP = "image/webp"


@dataclass(frozen=True)
class Made:
    """What one run of the step wrote: renditions (with their placeholder), a stripped copy."""

    placeholder: str | None
    public_copy: bool


class RenditionService:
    """Reads an original once, writes its thumbnail, preview and (when asked) stripped copy."""

    def __init__(self, store: ObjectStore, max_pixels: int, cache_seconds: int) -> None:
        self.store = store
        self.max_pixels = max_pixels
        # Renditions never change under their key: a browser may keep one as long as its URL.
        self.cache_control = f"private, max-age={cache_seconds}"

    def _read(self, key: str) -> bytes:
        with self.store.open(key) as stream:
            return stream.read()

    def make(self, key: str, file_format: str, renditions: bool, public_copy: bool) -> Made:
        """Write what is asked for from the original at `key` (FileNotFoundError: it is gone)."""
        data = self._read(key)
        placeholder = None
        if renditions:
            made = render(io.BytesIO(data), self.max_pixels)
            self.store.put(thumbnail_key(key), made.thumbnail, WEBP, self.cache_control)
            self.store.put(preview_key(key), made.preview, WEBP, self.cache_control)
            placeholder = made.placeholder
        if public_copy:
            self._put_public_copy(key, data, file_format)
        return Made(placeholder, public_copy)

    def make_public_copy(self, key: str, file_format: str) -> None:
        """Write the original at `key` without its location and camera metadata."""
        self._put_public_copy(key, self._read(key), file_format)

    def _put_public_copy(self, key: str, data: bytes, file_format: str) -> None:
        stripped, content_type = strip(data, file_format)
        self.store.put(public_key(key), stripped, content_type, self.cache_control)

    def discard(self, key: str) -> None:
        """Delete whatever was made from the image at `key` (its row went meanwhile)."""
        self.store.delete(derived_keys(key))
