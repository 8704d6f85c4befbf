"""Queries of near-duplicate lookups: band candidates in a scope, a library's hashes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from bitimage.images.models import Image
from bitimage.images.perceptual import BANDS, band_neighbours

_BAND_COLUMNS = (Image.dhash0, Image.dhash1, Image.dhash2, Image.dhash3)


@dataclass(frozen=True)
class HashRow:
    """What grouping needs of an image: id, MD5, dHash bands (None before analysis), age."""

    id: uuid.UUID
    md5: str
    bands: tuple[int, int, int, int] | None
    created_at: datetime


def bands(image: Image) -> tuple[int, int, int, int] | None:
    """The image's dHash bands; None until it is analysed."""
    b0, b1, b2, b3 = image.dhash0, image.dhash1, image.dhash2, image.dhash3
    if b0 is None or b1 is None or b2 is None or b3 is None:
        return None
    return (b0, b1, b2, b3)


class DuplicateRepository:
    """Reads for the duplicate routes, in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def candidates(
        self,
        owner: uuid.UUID | None,
        md5: str,
        of: tuple[int, int, int, int] | None,
        max_distance: int,
    ) -> list[Image]:
        """Images in scope with the same MD5 or a band within reach of `of` (itself too).

        Scope: `owner`'s library, or (None) public images that are not flagged.
        """
        scope: ColumnElement[bool]
        same: ColumnElement[bool]
        if owner is None:
            scope = and_(Image.is_private.is_(False), Image.moderation != "flagged")
            same = false()  # strangers: a public exact copy has distance 0 (no MD5 index)
        else:
            scope = Image.user_id == owner
            same = Image.hash == md5
        near: list[ColumnElement[bool]] = []
        if of is not None:
            near = [
                _BAND_COLUMNS[n].in_(band_neighbours(of[n], max_distance)) for n in range(BANDS)
            ]
        return list(self.session.scalars(select(Image).where(scope, or_(same, *near))))

    def library(self, owner: uuid.UUID) -> list[HashRow]:
        """Every image of `owner` with its MD5 and dHash bands, oldest first."""
        rows = self.session.execute(
            select(Image.id, Image.hash, *_BAND_COLUMNS, Image.created_at)
            .where(Image.user_id == owner)
            .order_by(Image.created_at, Image.id)
        )
        found = []
        for image_id, md5, b0, b1, b2, b3, created_at in rows:
            known = None
            if b0 is not None and b1 is not None and b2 is not None and b3 is not None:
                known = (b0, b1, b2, b3)
            found.append(HashRow(image_id, md5, known, created_at))
        return found

    def images(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Image]:
        """These images by id."""
        if not image_ids:
            return {}
        found = self.session.scalars(select(Image).where(Image.id.in_(image_ids)))
        return {image.id: image for image in found}
