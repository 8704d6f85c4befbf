"""Duplicates: the same picture kept twice, by MD5 (same bytes) or a close dHash (issue 15)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from bitimage.config import Settings
from bitimage.images.duplicate_repository import DuplicateRepository, HashRow, bands
from bitimage.images.duplicate_schemas import (
    DuplicateGroup,
    DuplicatePage,
    DuplicatesQuery,
    HashLookup,
    HashLookupQuery,
    HashMatches,
    NearImage,
    SimilarImage,
    SimilarImages,
    SimilarQuery,
)
from bitimage.images.models import Image
from bitimage.images.perceptual import bands_of, close_pairs, components, distance, joined
from bitimage.images.service import ImageService
from bitimage.search.vectors import VectorIndex


def _distance(a: tuple[int, ...] | None, b: tuple[int, ...] | None) -> int | None:
    return None if a is None or b is None else distance(joined(a), joined(b))


class DuplicateService:
    """Finds an image's duplicates, and every group of duplicates in a library."""

    def __init__(self, settings: Settings, images: ImageService, vectors: VectorIndex) -> None:
        self.settings = settings
        self.images = images
        self.vectors = vectors

    def _reach(self, max_distance: int | None) -> int:
        return self.settings.near_duplicate_distance if max_distance is None else max_distance

    def similar(
        self, session: Session, viewer: uuid.UUID | None, image_id: uuid.UUID, query: SimilarQuery
    ) -> SimilarImages:
        """The image's duplicates its viewer may see: the owner's library, else public images."""
        image = self.images.visible_image(session, viewer, image_id)
        owner = image.user_id if viewer == image.user_id else None
        if query.kind == "visual":
            return self._visual(session, viewer, image, owner, query.limit)
        reach = self._reach(query.max_distance)
        mine = bands(image)
        found: list[tuple[Image, int | None, bool]] = []
        for other in DuplicateRepository(session).candidates(owner, image.hash, mine, reach):
            gap = _distance(mine, bands(other))
            exact = other.hash == image.hash
            if other.id != image.id and (exact or (gap is not None and gap <= reach)):
                found.append((other, gap, exact))
        found.sort(key=lambda f: (not f[2], f[1] or 0, f[0].created_at, f[0].id))
        found = found[: query.limit]
        summaries = self.images.summaries([other for other, _, _ in found], viewer)
        return SimilarImages(
            image_id=image.id,
            kind=query.kind,
            max_distance=reach,
            images=[
                SimilarImage(image=summary, distance=gap, exact=exact)
                for summary, (_, gap, exact) in zip(summaries, found, strict=True)
            ],
        )

    def _visual(
        self,
        session: Session,
        viewer: uuid.UUID | None,
        image: Image,
        owner: uuid.UUID | None,
        limit: int,
    ) -> SimilarImages:
        """The images that look most like `image` in the same scope as its duplicates."""
        found = self.vectors.nearest(session, image.id, owner, limit)
        rows = DuplicateRepository(session).images([n.image_id for n in found])
        kept = [(rows[n.image_id], n.similarity) for n in found if n.image_id in rows]
        summaries = self.images.summaries([other for other, _ in kept], viewer)
        return SimilarImages(
            image_id=image.id,
            kind="visual",
            max_distance=None,
            images=[
                SimilarImage(
                    image=summary,
                    distance=None,
                    exact=other.hash == image.hash,
                    similarity=round(similarity, 4),
                )
                for summary, (other, similarity) in zip(summaries, kept, strict=True)
            ],
        )

    def lookup(self, session: Session, owner: uuid.UUID, query: HashLookupQuery) -> HashLookup:
        """The owner's analysed images within reach of each hash, nearest first, then oldest."""
        reach = self._reach(query.max_distance)
        repo = DuplicateRepository(session)
        per_hash: list[list[tuple[Image, int]]] = []
        for dhash in query.dhash:
            wanted = bands_of(dhash)
            near = []
            for image in repo.candidates(owner, None, wanted, reach):
                gap = _distance(wanted, bands(image))
                if gap is not None and gap <= reach:
                    near.append((image, gap))
            near.sort(key=lambda n: (n[1], n[0].created_at, n[0].id))
            per_hash.append(near[: query.limit])
        # One prepare for every image of the answer (an image may be near several hashes).
        unique = {image.id: image for near in per_hash for image, _ in near}
        self.images.prepare(list(unique.values()), owner)
        return HashLookup(
            max_distance=reach,
            matches=[
                HashMatches(
                    dhash=dhash.lower(),
                    images=[NearImage(image=self.images.summary(i), distance=d) for i, d in near],
                )
                for dhash, near in zip(query.dhash, per_hash, strict=True)
            ],
        )

    def groups(self, session: Session, owner: uuid.UUID, query: DuplicatesQuery) -> DuplicatePage:
        """The owner's groups of duplicates, largest first, then by their oldest image."""
        reach = self._reach(query.max_distance)
        repo = DuplicateRepository(session)
        rows = repo.library(owner)
        groups = library_groups(rows, reach)
        start = (query.page - 1) * query.per_page
        page = groups[start : start + query.per_page]
        images = repo.images([rows[i].id for group in page for i in group])
        self.images.prepare(list(images.values()), owner)
        answer = []
        for group in page:
            first = rows[group[0]]
            answer.append(
                DuplicateGroup(
                    images=[
                        SimilarImage(
                            image=self.images.summary(images[rows[i].id]),
                            distance=_distance(first.bands, rows[i].bands),
                            exact=rows[i].md5 == first.md5,
                        )
                        for i in group
                    ]
                )
            )
        more = start + query.per_page < len(groups)
        return DuplicatePage(
            groups=answer,
            total_groups=len(groups),
            max_distance=reach,
            next_page=query.page + 1 if more else None,
        )


def library_groups(rows: Sequence[HashRow], max_distance: int) -> list[list[int]]:
    """Indexes into `rows` of each group of duplicates: same MD5, or dHash within reach.

    Members in row order (oldest first); groups largest first, then by their oldest member.
    """
    pairs: list[tuple[int, int]] = []
    first_of: dict[str, int] = {}
    for i, row in enumerate(rows):
        pairs.append((first_of.setdefault(row.md5, i), i))
    hashed = [i for i, row in enumerate(rows) if row.bands is not None]
    values = [joined(rows[i].bands or ()) for i in hashed]
    pairs += [(hashed[a], hashed[b]) for a, b in close_pairs(values, max_distance)]
    groups = [sorted(group) for group in components(len(rows), pairs)]
    groups.sort(key=lambda group: (-len(group), group[0]))
    return groups
