"""Reading and deleting images: summaries with view URLs, the expanded view, bulk deletion."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from bitimage.config import MIB, Settings
from bitimage.db.session import after_commit
from bitimage.errors import InvalidRequest, NotFound
from bitimage.images.models import Image
from bitimage.images.repository import ImageRepository, Listed, scope_of
from bitimage.images.schemas import (
    ExpandedImage,
    ImageEdit,
    ImageSummary,
    LabelOut,
    ModerationOut,
    TagOut,
)
from bitimage.queue.outbox import drop_jobs_for
from bitimage.search.ports import SearchIndex
from bitimage.storage.keys import (
    derived_keys,
    preview_key,
    public_key,
    thumbnail_key,
    user_prefixes,
)
from bitimage.storage.ports import ObjectStore
from bitimage.users.repository import UserRepository

# (image id, storage key, file format) of an image whose stripped copy is to be made.
PublicCopy = tuple[uuid.UUID, str, str]
Summarised = Image | Listed  # a mapped image, or the row a page of summaries reads


class ImageService:
    """Views and deletions of confirmed images."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        search: SearchIndex,
        purge: Callable[[Sequence[int]], object],
        public_copies: Callable[[Sequence[PublicCopy]], None] = lambda _: None,
        request_renditions: Callable[[Sequence[uuid.UUID]], None] = lambda _: None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.search = search
        self.purge = purge
        # Entrypoints of the renditions feature (wired in bootstrap: images imports none
        # above it): make stripped copies now; queue renditions an old image never got.
        self.public_copies = public_copies
        self.request_renditions = request_renditions

    def summary(self, image: Summarised, owner: bool = True) -> ImageSummary:
        """The summary of an image, with fresh pre-signed URLs (call prepare() first).

        The owner's view_url is the upload as it came; anyone else's is the stripped copy.
        """
        key = image.storage_key
        view = key if owner else public_key(key)
        ttl = self.settings.view_url_ttl_seconds
        if image.placeholder is None:
            (view_url,) = self.store.presign_gets([view], ttl)
            thumbnail_url = preview_url = None
        else:
            view_url, thumbnail_url, preview_url = self.store.presign_gets(
                [view, thumbnail_key(key), preview_key(key)], ttl
            )
        return ImageSummary(
            id=image.id,
            name=image.name,
            is_private=image.is_private,
            file_format=image.file_format,
            view_url=view_url,
            thumbnail_url=thumbnail_url,
            preview_url=preview_url,
            placeholder=image.placeholder,
            created_at=image.created_at,
            width=image.width,
            height=image.height,
            size_bytes=image.size_bytes,
            analysis_status=image.analysis_status,
        )

    def summaries(
        self, images: Sequence[Summarised], viewer: uuid.UUID | None
    ) -> list[ImageSummary]:
        """Summaries of `images` as `viewer` (None: a stranger to all of them) sees them."""
        self.prepare(images, viewer)
        return [self.summary(image, image.user_id == viewer) for image in images]

    def prepare(self, images: Sequence[Summarised], viewer: uuid.UUID | None) -> None:
        """Make what `viewer` is about to be sent URLs of, and queue what can wait.

        A stranger's view_url must point at a stripped copy: those missing are made now
        (once; the rendition step makes them ahead for images public when confirmed).
        Renditions of an image confirmed before they existed are queued, null until made.
        """
        missing = [
            (image.id, image.storage_key, image.file_format)
            for image in images
            if image.user_id != viewer and not image.public_copy
        ]
        if missing:
            self.public_copies(missing)
        old = [
            image.id
            for image in images
            if image.rendered_at is None and image.analysis_status != "pending"
        ]
        if old:
            self.request_renditions(old)

    def visible_image(
        self, session: Session, viewer: uuid.UUID | None, image_id: uuid.UUID
    ) -> Image:
        """The image if the viewer may see it; 404 otherwise (never revealing a private one)."""
        image = ImageRepository(session).get(image_id)
        hidden = image is not None and (image.is_private or image.moderation == "flagged")
        if image is None or (hidden and image.user_id != viewer):
            raise NotFound(f"Image {image_id} was not found", image_id=image_id)
        return image

    def expanded(
        self,
        session: Session,
        viewer: uuid.UUID | None,
        image_id: uuid.UUID,
        prepare: bool = True,
    ) -> ExpandedImage:
        """Everything about one image its viewer may see.

        `prepare=False` where the caller holds a write transaction: prepare() may write in
        transactions of its own, which would wait for this one (the next view does it).
        """
        image = self.visible_image(session, viewer, image_id)
        repo = ImageRepository(session)
        tags = repo.tags_of([image.id]).get(image.id, [])
        labels = repo.labels_of(image.id)
        owner = viewer == image.user_id
        if prepare:
            self.prepare([image], viewer)
        base = self.summary(image, owner)
        facts = image.analysis_facts or {}
        return ExpandedImage(
            **base.model_dump(),
            hash=image.hash,
            size_mb=round(image.size_bytes / MIB, 3),
            tags=[TagOut(id=tag.id, name=tag.name) for tag in tags],
            labels=[
                LabelOut(
                    id=label.id,
                    name=label.name,
                    confidence=round(link.confidence, 4),
                    source=f"{link.analyser} ({link.model})" if link.model else link.analyser,
                )
                for label, link in labels
            ],
            text=facts.get("text"),
            colours=list(facts.get("colours", [])),
            exif=facts.get("exif") if owner else None,
            moderation=_moderation(image, facts) if owner else None,
            analysis_error=image.analysis_error if owner else None,
        )

    def edit(
        self, session: Session, owner: uuid.UUID, image_id: uuid.UUID, change: ImageEdit
    ) -> ExpandedImage:
        """Change the owner's image (name, privacy, tags replaced); search sees it at once."""
        repo = ImageRepository(session)
        # The lock order of every writer: the owner's row, then the image's.
        UserRepository(session).quotas([owner], for_update=True)
        image = repo.lock([image_id]).get(image_id)
        if image is None or image.user_id != owner:
            raise NotFound(f"Image {image_id} was not found among your images", image_id=image_id)
        if change.name is not None:
            image.name = change.name
        moved = change.is_private is not None and change.is_private != image.is_private
        if change.is_private is not None:
            image.is_private = change.is_private
        session.flush()
        if change.tags is not None:
            names = sorted({tag.name.lower() for tag in change.tags})
            scope = {"user_id": image.user_id, "created_at": image.created_at,
                     "is_private": image.is_private, "moderation": image.moderation}  # fmt: skip
            repo.replace_tags(image.id, names, scope_of(scope))
        if moved:  # into or out of the public summary: every copy of its scope follows
            self.search.rescope(session, [image.id])
        if change.name is not None or change.tags is not None:
            self.search.index(session, [repo.search_entry(image)])
        return self.expanded(session, owner, image.id, prepare=False)

    def delete_images(
        self, session: Session, owner: uuid.UUID, image_ids: Sequence[uuid.UUID]
    ) -> None:
        """Delete the owner's images, all or nothing; their bytes go once the rows are gone."""
        ids = list(dict.fromkeys(image_ids))
        if not ids:
            raise InvalidRequest("Give at least one image id as ?id=...")
        if len(ids) > self.settings.upload_urls_max:
            raise InvalidRequest(f"At most {self.settings.upload_urls_max} ids per request")
        repo = ImageRepository(session)
        # The lock order of every writer: the owner's row (as notify and account deletion
        # take it), then the image rows in id order, then what hangs off them.
        UserRepository(session).quotas([owner], for_update=True)
        found = repo.lock(ids)
        for image_id in ids:
            image = found.get(image_id)
            if image is None or image.user_id != owner:
                raise NotFound(
                    f"Image {image_id} was not found among your images", image_id=image_id
                )
        self._delete_rows(session, repo, ids)
        UserRepository(session).add_uploads(owner, -len(ids))
        purges = [
            repo.add_purge(key)
            for i in ids
            for key in (found[i].storage_key, *derived_keys(found[i].storage_key))
        ]
        self._purge_after_commit(session, [p.id for p in purges])

    def delete_all_of_user(self, session: Session, user_id: uuid.UUID) -> None:
        """Delete every image row of a user and queue every object under their prefixes."""
        repo = ImageRepository(session)
        self._delete_rows(session, repo, list(repo.lock(repo.ids_of_user(user_id))))
        repo.delete_grants_of_user(user_id)
        purges = [repo.add_purge(prefix, is_prefix=True) for prefix in user_prefixes(user_id)]
        self._purge_after_commit(session, [p.id for p in purges])

    def _delete_rows(self, session: Session, repo: ImageRepository, ids: list[uuid.UUID]) -> None:
        drop_jobs_for(session, ids)
        self.search.remove(session, ids)
        repo.delete(ids)

    def _purge_after_commit(self, session: Session, purge_ids: list[int]) -> None:
        def purge() -> None:
            # The store works after the commit, outside any transaction (images/purges.py).
            self.purge(purge_ids)

        after_commit(session, purge)

    def clear_moderation(
        self, session: Session, image_id: uuid.UUID, owner: uuid.UUID | None
    ) -> None:
        """A person looked: show a flagged image again (owner, or the operator with None)."""
        image = ImageRepository(session).lock([image_id]).get(image_id)
        if image is None or (owner is not None and image.user_id != owner):
            raise NotFound(f"Image {image_id} was not found", image_id=image_id)
        image.moderation = "cleared"
        self.search.rescope(session, [image_id])


def _moderation(image: Image, facts: dict[str, Any]) -> ModerationOut:
    check = facts.get("moderation") or {}
    return ModerationOut(
        status=image.moderation,
        explicit_score=check.get("explicit_score"),
        classes=dict(check.get("classes", {})),
    )
