"""Queries that store analysis results: labels per analyser, facts and status per image."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as lite
from sqlalchemy.orm import Session

from bitimage.analysis.ports import Label
from bitimage.db.base import utcnow
from bitimage.images.models import ContentLabel, Image, ImageContentLabel
from bitimage.images.perceptual import bands_of
from bitimage.images.repository import scope_of


class AnalysisRepository:
    """Reads and writes analysis results in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_image(self, image_id: uuid.UUID) -> Image | None:
        """The image row, locked until the transaction ends (PostgreSQL; SQLite serialises)."""
        return self.session.scalars(
            select(Image).where(Image.id == image_id).with_for_update()
        ).first()

    def all_image_ids(self) -> list[uuid.UUID]:
        """Every confirmed image."""
        return list(self.session.scalars(select(Image.id).order_by(Image.created_at)))

    def ensure_labels(self, names: Iterable[str]) -> dict[str, uuid.UUID]:
        """The ids of these content labels, creating the missing ones (in name order)."""
        wanted = set(names)
        found = self._label_ids(wanted)
        missing = sorted(wanted - found.keys())
        if missing:
            # Another worker may be adding the same new label: its row is waited for and
            # kept, where a plain INSERT would fail the whole job on the unique name.
            upsert = pg_insert if self.session.get_bind().dialect.name == "postgresql" else lite
            self.session.execute(
                upsert(ContentLabel).on_conflict_do_nothing(index_elements=["name"]),
                [{"id": uuid.uuid4(), "name": name} for name in missing],
            )
            found.update(self._label_ids(set(missing)))
        return found

    def _label_ids(self, names: set[str]) -> dict[str, uuid.UUID]:
        if not names:
            return {}
        rows = self.session.execute(
            select(ContentLabel.name, ContentLabel.id).where(ContentLabel.name.in_(names))
        )
        return {row.name: row.id for row in rows}

    def replace_labels(
        self, image_id: uuid.UUID, analyser: str, model: str, labels: Sequence[Label]
    ) -> None:
        """Make `labels` the analyser's only labels of the image (a rerun never doubles)."""
        self.session.execute(
            delete(ImageContentLabel).where(
                ImageContentLabel.image_id == image_id, ImageContentLabel.analyser == analyser
            )
        )
        best: dict[str, float] = {}
        for label in labels:
            best[label.name] = max(best.get(label.name, 0.0), label.confidence)
        ids = self.ensure_labels(best)
        image = self.session.get(Image, image_id)
        if best and image is not None:
            scope = scope_of(
                {
                    "user_id": image.user_id,
                    "created_at": image.created_at,
                    "is_private": image.is_private,
                    "moderation": image.moderation,
                }
            )
            self.session.execute(
                insert(ImageContentLabel),
                [
                    {
                        "image_id": image_id,
                        "label_id": ids[name],
                        "confidence": confidence,
                        "analyser": analyser,
                        "model": model,
                        **scope,
                    }
                    for name, confidence in best.items()
                ],
            )

    def finish(self, image: Image, facts: dict[str, Any]) -> None:
        """Record the analysis as done, merging these facts into the image's."""
        image.analysis_facts = {**(image.analysis_facts or {}), **facts}
        dhash = image.analysis_facts.get("dhash")
        if isinstance(dhash, str):  # its bands are what near-duplicate lookups read
            image.dhash0, image.dhash1, image.dhash2, image.dhash3 = bands_of(dhash)
        image.analysis_status = "done"
        image.analysis_error = None
        image.analysed_at = utcnow()

    def mark_failed(self, image_id: uuid.UUID, reason: str) -> None:
        """Record that the analysis gave up on this image, and why."""
        self.session.execute(
            update(Image)
            .where(Image.id == image_id)
            .values(analysis_status="failed", analysis_error=reason[:2000], analysed_at=utcnow())
        )
