"""--skip-near-duplicates: a picture the account already holds, resized or re-encoded, is skipped.

Each file still new by its MD5 is decoded and hashed here as the server's analysis does
(bitimage.dhash, shared with it, so the bits are the same), and the account is asked for its
images within reach of that hash (GET /images/duplicates/lookup, one file a request from the
uploader's workers, as the MD5 look-up is). Only analysed images have a hash on the server: one
uploaded moments ago, whose analysis has not run yet, is not found. Within one run, the first
file to be checked of a set of near copies is sent and the others are skipped: the run's own
hashes are kept here, as the MD5s are. A file that cannot be decoded here (not an image, over
MAX_PIXELS) is not a near duplicate of anything: it goes on, and the server has its say.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid

from bitimage.client.ports import UploadClient
from bitimage.client.tracking import Item
from bitimage.dhash import stream_dhash
from bitimage.imaging import UnsupportedImage

MAX_PIXELS = 50_000_000  # the server's default BITIMAGE_MAX_IMAGE_PIXELS
# What a damaged or odd file makes Pillow (and pi-heif: RuntimeError) raise while decoding.
_UNDECODABLE = (UnsupportedImage, OSError, ValueError, SyntaxError, EOFError, RuntimeError)


def file_dhash(item: Item) -> str | None:
    """The file's dHash as the server computes it, or None when it cannot be decoded."""
    try:
        if item.path is not None:
            with item.path.open("rb") as stream:
                return stream_dhash(stream, MAX_PIXELS)
        handle = item.handle
        assert handle is not None
        assert handle.seekable()  # _hash spooled it otherwise
        start = handle.tell()
        try:
            if start == 0:
                return stream_dhash(handle, MAX_PIXELS)  # type: ignore[arg-type]  # IO[bytes]
            # Pillow reads an image from its stream's offset 0: the part from here, copied.
            with tempfile.TemporaryFile() as copy:
                shutil.copyfileobj(handle, copy)
                copy.seek(0)
                return stream_dhash(copy, MAX_PIXELS)
        finally:
            handle.seek(start)
    except _UNDECODABLE:
        return None


class NearDuplicates:
    """Decides whether a file is a near copy of a held image or of one this run sends."""

    def __init__(self, client: UploadClient, max_distance: int | None) -> None:
        self.client = client
        self.max_distance = max_distance
        self._lock = threading.Lock()
        self._sent: list[tuple[int, str]] = []  # hash and label of this run's files that go up

    def skip_reason(self, item: Item) -> tuple[str, uuid.UUID | None] | None:
        """Why the file is skipped and the held image it copies, or None when it is sent."""
        found = file_dhash(item)
        if found is None:
            return None
        answer = self.client.near_images([found], max_distance=self.max_distance, limit=1)
        nearest = answer.matches[0].images if answer.matches else []
        if nearest:
            held = nearest[0]
            return f"near duplicate of image {held.image.id} (distance {held.distance})", (
                held.image.id
            )
        value = int(found, 16)
        # Check and claim in one step: of two near copies checked at once, one is sent.
        with self._lock:
            for other, label in self._sent:
                gap = (value ^ other).bit_count()
                if gap <= answer.max_distance:
                    return f"near duplicate of {label} (distance {gap})", None
            self._sent.append((value, item.label))
        return None
