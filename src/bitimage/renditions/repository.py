"""Rendition state on image rows: what to make, and recording what was made."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bitimage.db.base import utcnow
from bitimage.images.models import Image
from bitimage.images.repository import ImageRepository
from bitimage.queue.models import Job


@dataclass(frozen=True)
class Target:
    """What the rendition step needs to know of one image."""

    image_id: uuid.UUID
    storage_key: str
    file_format: str
    rendered: bool
    wants_public_copy: bool  # public now, and no stripped copy yet


class RenditionRepository:
    """Reads and writes of the rendition columns of `images` (handed a session)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def target(self, image_id: uuid.UUID) -> Target | None:
        """The image's key, format and rendition state; None once it is deleted."""
        image = self.session.get(Image, image_id)
        if image is None:
            return None
        return Target(
            image.id,
            image.storage_key,
            image.file_format,
            image.rendered_at is not None,
            not image.is_private and not image.public_copy,
        )

    def record(
        self,
        image_id: uuid.UUID,
        placeholder: str | None,
        public_copy: bool,
        unrenderable: bool = False,
    ) -> bool:
        """Note what the step made (renditions when `placeholder`); False if the image is gone.

        `unrenderable`: no renditions can be made; the image is marked rendered without a
        placeholder, which shows as no renditions and stops requests from queueing it again.
        """
        # The image row first, as every writer locks it (ImageRepository.lock).
        image = ImageRepository(self.session).lock([image_id]).get(image_id)
        if image is None:
            return False
        if placeholder is not None or unrenderable:
            image.rendered_at = utcnow()
            image.placeholder = placeholder
        if public_copy:
            image.public_copy = True
        return True

    def record_public_copies(self, image_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Mark these images' stripped copies made; the ids whose rows are still there."""
        found = ImageRepository(self.session).lock(image_ids)
        for image in found.values():
            image.public_copy = True
        return set(found)

    def without_render_job(self, image_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """Those of `image_ids` with no renditions and no job of theirs waiting or running."""
        if not image_ids:
            return []
        busy = set(
            self.session.scalars(
                select(Job.image_id).where(
                    Job.image_id.in_(image_ids), Job.state.in_(("queued", "reserved"))
                )
            )
        )
        missing = self.session.scalars(
            select(Image.id).where(Image.id.in_(image_ids), Image.rendered_at.is_(None))
        )
        return sorted(i for i in missing if i not in busy)
