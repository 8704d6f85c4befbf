"""What the uploader and the batch confirmer need of a client, so they never import `Client`.

`Client` (api.py) satisfies these structurally and builds the uploader; the uploader and
notify.py depend only on these protocols, so imports run one way: api -> uploads -> ports.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from typing import IO, Protocol

from bitimage.client.models import (
    Account,
    ExpandedImage,
    HashLookup,
    ImageSummary,
    NotifyImage,
    UploadUrl,
)


class NotifyClient(Protocol):
    """The calls `confirm_batch` makes: confirm a batch, and look an image up after a 409."""

    def notify(self, images: Sequence[NotifyImage]) -> list[ImageSummary]:
        """Confirm up to 5 uploaded images, all or nothing; their summaries."""
        ...

    def expanded(self, image_id: uuid.UUID | str) -> ExpandedImage:
        """Everything about one image."""
        ...


class UploadClient(NotifyClient, Protocol):
    """The calls `BatchUploader` makes, besides those of `NotifyClient`."""

    def account(self, user_id: uuid.UUID | None = None) -> Account:
        """The caller's account with its image count and limit."""
        ...

    def held_hashes(self, concurrency: int = 8) -> dict[str, uuid.UUID]:
        """MD5 -> id of every image the caller holds."""
        ...

    def find_by_hash(self, md5: str) -> ImageSummary | None:
        """One of the caller's images with exactly these bytes, or None."""
        ...

    def near_images(
        self, dhashes: Sequence[str], *, max_distance: int | None = None, limit: int = 5
    ) -> HashLookup:
        """The caller's analysed images near each dHash."""
        ...

    def upload_urls(self, count: int) -> list[UploadUrl]:
        """`count` fresh image ids, each with a pre-signed PUT URL."""
        ...

    def put_object(
        self,
        url: str,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
        md5: bool = False,
    ) -> str | None:
        """PUT a file's bytes to a signed URL; their hex MD5 when `md5` is set."""
        ...
