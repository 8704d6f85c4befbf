"""Queries of near-duplicate lookups: band candidates in a scope, a library's hashes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, TextClause, or_, select, text, union
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


def candidate_query(
    owner: uuid.UUID | None,
    md5: str | None,
    of: tuple[int, int, int, int] | None,
    max_distance: int,
    united: bool,
) -> Select[Image] | None:
    """The statement of DuplicateRepository.candidates (None: nothing to look up)."""
    scope: ColumnElement[bool] | TextClause
    terms: list[ColumnElement[bool]] = []
    if owner is None:
        # Spelled as the partial indexes' condition, or SQLite would not use them. No MD5
        # term: no index serves it across owners, and a public exact copy is at distance 0.
        scope = text("NOT images.is_private")
    else:
        scope = Image.user_id == owner
        if md5 is not None:
            terms.append(Image.hash == md5)
    if of is not None:
        terms += [_BAND_COLUMNS[n].in_(band_neighbours(of[n], max_distance)) for n in range(BANDS)]
    if not terms:
        return None
    if united:
        # SQLite reads an OR of the terms as one scan of the owner's rows; united, each term
        # is an indexed lookup. PostgreSQL plans the OR itself (a BitmapOr, or one scan of a
        # small library: measured faster than four).
        found = union(*(select(Image.id).where(scope, term) for term in terms)).subquery()
        query = select(Image).where(Image.id.in_(select(found.c.id)))
    else:
        query = select(Image).where(scope, or_(*terms))
    return query if owner is not None else query.where(Image.moderation != "flagged")


class DuplicateRepository:
    """Reads for the duplicate routes, in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def candidates(
        self,
        owner: uuid.UUID | None,
        md5: str | None,
        of: tuple[int, int, int, int] | None,
        max_distance: int,
    ) -> list[Image]:
        """Images in scope with the same MD5 or a band within reach of `of` (itself too).

        Scope: `owner`'s library, or (None) public images that are not flagged. No `md5`:
        band candidates only.
        """
        united = self.session.get_bind().dialect.name == "sqlite"
        query = candidate_query(owner, md5, of, max_distance, united)
        return [] if query is None else list(self.session.scalars(query))

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
