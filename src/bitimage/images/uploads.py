"""The upload flow: issue pre-signed URLs, then verify and confirm what was uploaded."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bitimage.config import Settings, describe_size
from bitimage.db.base import utcnow
from bitimage.db.session import after_commit, on_rollback
from bitimage.errors import (
    AccessDenied,
    AppError,
    Conflict,
    HashMismatch,
    InvalidRequest,
    NotFound,
    TooLarge,
    UnsupportedMedia,
)
from bitimage.images.inspect import ImageInfo, UnsupportedImage, inspect_image
from bitimage.images.models import Image
from bitimage.images.repository import ImageRepository
from bitimage.images.schemas import NotifyImage, UploadUrl
from bitimage.queue.outbox import enqueue_analysis
from bitimage.search.ports import SearchEntry, SearchIndex
from bitimage.storage.keys import permanent_key, staging_key
from bitimage.storage.ports import ObjectStore
from bitimage.storage.ranged import RangedReader
from bitimage.users.models import User
from bitimage.users.repository import UserRepository


@dataclass(frozen=True)
class VerifiedUpload:
    """What the staged bytes of one image turned out to be."""

    size: int
    md5: str
    info: ImageInfo


class UploadService:
    """Issues upload URLs and turns verified staging uploads into confirmed images."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        search: SearchIndex,
        jobs_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.search = search
        self.jobs_queued = jobs_queued
        self.clock = clock

    def _account(self, session: Session, user_id: uuid.UUID, lock: bool = False) -> User:
        user = UserRepository(session).get(user_id, for_update=lock)
        if user is None:
            raise NotFound(
                f"User {user_id} has no Bit-image account", "Create it with POST /api/v1/users"
            )
        return user

    def _check_quota(self, user: User, adding: int) -> None:
        limit = user.image_upload_limit
        if limit is not None and user.image_upload_count + adding > limit:
            raise AccessDenied(
                f"Image limit reached: user {user.id} has {user.image_upload_count} of "
                f"{limit} images and asked for {adding} more",
                "Delete some images or ask the operator to raise image_upload_limit",
            )

    def issue_upload_urls(
        self, session: Session, user_id: uuid.UUID, count: int
    ) -> list[UploadUrl]:
        """Fresh image ids, each with a pre-signed PUT URL into staging."""
        top = self.settings.upload_urls_max
        if not 1 <= count <= top:
            raise InvalidRequest(f"image_count must be between 1 and {top}, got {count}")
        self._check_quota(self._account(session, user_id), count)
        ttl = self.settings.upload_url_ttl_seconds
        expires_at = self.clock() + timedelta(seconds=ttl)
        ids = [uuid.uuid4() for _ in range(count)]
        keys = [staging_key(user_id, image_id) for image_id in ids]
        ImageRepository(session).add_grants(
            [
                {"image_id": i, "user_id": user_id, "staging_key": k, "expires_at": expires_at}
                for i, k in zip(ids, keys, strict=True)
            ]
        )
        return [
            UploadUrl(url=self.store.presign_put(k, ttl), image_id=i)
            for i, k in zip(ids, keys, strict=True)
        ]

    def verify_staged(self, user_id: uuid.UUID, item: NotifyImage) -> VerifiedUpload | AppError:
        """Check one staged object (exists, size, format, MD5); return the error, not raise it."""
        key = staging_key(user_id, item.id)
        info = self.store.stat(key)
        if info is None:
            return NotFound(
                f"Nothing was uploaded for image {item.id}",
                "PUT the file's bytes to the upload URL of this image id first",
            )
        limit = self.settings.max_image_bytes
        if info.size > limit:
            return TooLarge(
                f"Image {item.id} is {describe_size(info.size)}, "
                f"over the upload limit of {describe_size(limit)}"
            )
        try:
            # Ranged reads: the header and the end marker, not the whole object.
            ranged = RangedReader(self.store, key, info.size)
            with io.BufferedReader(ranged, buffer_size=64 * 1024) as stream:
                image_info = inspect_image(stream, self.settings.max_image_pixels)
        except UnsupportedImage as exc:
            return UnsupportedMedia(
                f"Image {item.id} is not a supported image (detected format: {exc.detected}): "
                f"{exc.reason}"
            )
        md5 = info.md5 or self.store.md5(key)
        if md5 != item.hash.lower():
            return HashMismatch(
                f"The MD5 of image {item.id} is {md5}, not {item.hash.lower()} as given"
            )
        return VerifiedUpload(info.size, md5, image_info)

    def confirm_uploads(
        self, session: Session, user_id: uuid.UUID, items: Sequence[NotifyImage]
    ) -> list[Image]:
        """Confirm a batch, all or nothing, checking each image in API.md's order."""
        if len(items) > self.settings.notify_batch_max:
            raise InvalidRequest(
                f"{len(items)} images in one batch; at most {self.settings.notify_batch_max}",
                "Split the images into batches of 5",
            )
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise InvalidRequest("The same image id appears twice in the batch")
        # Storage checks need no database and run before the write lock is taken;
        # their errors are raised below in the order API.md gives, after the row checks.
        staged = {item.id: self.verify_staged(user_id, item) for item in items}
        user = self._account(session, user_id, lock=True)
        repo = ImageRepository(session)
        existing = repo.get_many(ids)
        grants = repo.grants(ids, lock=True)
        verified: dict[uuid.UUID, VerifiedUpload] = {}
        for item in items:
            image = existing.get(item.id)
            if image is not None and image.user_id == user_id:
                raise Conflict(f"Image {item.id} is already confirmed")
            grant = grants.get(item.id)
            if grant is None or grant.user_id != user_id:
                raise NotFound(f"Image id {item.id} was not issued to user {user_id}")
            result = staged[item.id]
            if isinstance(result, AppError):
                raise result
            verified[item.id] = result
        self._check_quota(user, len(items))
        return self._store_batch(session, repo, user_id, items, verified)

    def _store_batch(
        self,
        session: Session,
        repo: ImageRepository,
        user_id: uuid.UUID,
        items: Sequence[NotifyImage],
        verified: dict[uuid.UUID, VerifiedUpload],
    ) -> list[Image]:
        copied: list[str] = []
        # If the transaction does not commit, the copies go and the staged uploads stay,
        # so the batch can be notified again; a crash before that is left to the sweeper.
        on_rollback(session, lambda: self.store.delete(copied))
        for item in items:
            destination = permanent_key(user_id, item.id)
            self.store.copy(staging_key(user_id, item.id), destination)
            copied.append(destination)
        now = self.clock()
        images: list[Image] = []
        entries: list[SearchEntry] = []
        tags = repo.ensure_tags(tag.name.lower() for item in items for tag in item.tags)
        for offset, item in enumerate(items):
            upload = verified[item.id]
            image = Image(
                id=item.id,
                user_id=user_id,
                name=item.name,
                hash=upload.md5,
                size_bytes=upload.size,
                file_format=upload.info.file_format,
                width=upload.info.width,
                height=upload.info.height,
                is_private=item.is_private,
                storage_key=permanent_key(user_id, item.id),
                analysis_status="pending",
                # Distinct times keep "newest first" stable within one batch.
                created_at=now + timedelta(microseconds=offset),
            )
            repo.add(image)
            names = sorted({tag.name.lower() for tag in item.tags})
            repo.link_tags(item.id, (tags[name] for name in names))
            entries.append(SearchEntry(item.id, item.name, names))
            images.append(image)
        session.flush()  # one flush for the batch: rows of a kind go in one statement
        self.search.index(session, entries)
        repo.delete_grants([item.id for item in items])
        UserRepository(session).add_uploads(user_id, len(items))
        enqueue_analysis(session, [item.id for item in items])
        staged = [staging_key(user_id, item.id) for item in items]
        after_commit(session, lambda: self.store.delete(staged))
        after_commit(session, self.jobs_queued)  # a worker or the outbox relay may start now
        return images
