"""The upload flow: issue pre-signed URLs, then verify and confirm what was uploaded.

`confirm` is notify's entrypoint and a batcher: it opens its own short units of work (claim,
release) and `confirm_group` owns the one transaction of a whole group (group commit).
"""

from __future__ import annotations

import io
import logging
import math
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bitimage import metrics
from bitimage.config import Settings, describe_size
from bitimage.db.base import utcnow
from bitimage.db.group_commit import GroupCommitter
from bitimage.db.session import Database, after_commit, on_rollback
from bitimage.errors import (
    AccessDenied,
    AppError,
    Conflict,
    HashMismatch,
    InvalidRequest,
    NotFound,
    TooLarge,
    TooManyRequests,
    UnsupportedMedia,
)
from bitimage.images.grants import GrantClaims
from bitimage.images.models import Image
from bitimage.images.repository import ImageRepository, Scopes, scope_of
from bitimage.images.schemas import NotifyImage, UploadUrl
from bitimage.imaging import ImageInfo, UnsupportedImage, inspect_image
from bitimage.queue.outbox import enqueue_analysis
from bitimage.search.ports import SearchEntry, SearchIndex
from bitimage.storage.keys import permanent_key, pinned_key, staging_key
from bitimage.storage.ports import ObjectChanged, ObjectStore
from bitimage.storage.ranged import PinnedRanges, RangedReader
from bitimage.users.repository import Quota, UserRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifiedUpload:
    """What the staged bytes of one image turned out to be."""

    size: int
    md5: str
    info: ImageInfo
    key: str  # the object that was checked (pinned), and its version: what gets copied
    etag: str | None


@dataclass(eq=False)
class PendingBatch:
    """One notify request on its way through the group committer, and what became of it."""

    user_id: uuid.UUID
    items: Sequence[NotifyImage]
    staged: dict[uuid.UUID, VerifiedUpload | AppError]
    verified: dict[uuid.UUID, VerifiedUpload] = field(default_factory=dict)
    claim: datetime | None = None  # the grants' claim this batch holds (None: none taken)
    pinned: set[uuid.UUID] = field(default_factory=set)  # ids whose upload was moved aside
    images: list[Image] | None = None
    error: Exception | None = None


class UploadService:
    """Issues upload URLs and turns verified staging uploads into confirmed images."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        store: ObjectStore,
        search: SearchIndex,
        jobs_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.store = store
        self.search = search
        self.jobs_queued = jobs_queued
        self.clock = clock
        self.committer = GroupCommitter(self.confirm_group)
        self.grants = GrantClaims(settings.notify_claim_seconds, clock)

    def _quota(self, quota: Quota | None, user_id: uuid.UUID) -> Quota:
        if quota is None:
            raise NotFound(
                f"User {user_id} has no Bit-image account", "Create it with POST /api/v1/users"
            )
        return quota

    def _check_quota(self, quota: Quota, adding: int) -> None:
        limit = quota.limit
        if limit is not None and quota.count + adding > limit:
            raise AccessDenied(
                f"Image limit reached: user {quota.user_id} has {quota.count} of "
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
        # The user's row is locked: concurrent requests count each other's grants.
        quota = UserRepository(session).quotas([user_id], for_update=True).get(user_id)
        now = self.clock()
        self._check_open_grants(session, self._quota(quota, user_id), count, now)
        ttl = self.settings.upload_url_ttl_seconds
        expires_at = now + timedelta(seconds=ttl)
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

    def _check_open_grants(
        self, session: Session, quota: Quota, adding: int, now: datetime
    ) -> None:
        """Images plus live grants plus `adding` within the limit (403) and the cap (429)."""
        live, first_expiry = ImageRepository(session).live_grants(quota.user_id, now)
        limit = quota.limit
        if limit is not None and quota.count + live + adding > limit:
            raise AccessDenied(
                f"Image limit reached: user {quota.user_id} has {quota.count} of {limit} "
                f"images and {live} unused upload URLs, and asked for {adding} more",
                "Confirm or let expire the upload URLs you hold, delete some images, "
                "or ask the operator to raise image_upload_limit",
            )
        cap = self.settings.max_open_uploads
        if live + adding > cap:
            wait = (first_expiry - now).total_seconds() if first_expiry is not None else 1
            raise TooManyRequests(
                f"User {quota.user_id} holds {live} unused upload URLs and asked for {adding} "
                f"more; at most {cap} may be open at once",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    def verify_staged(
        self, user_id: uuid.UUID, item: NotifyImage, pinned: set[uuid.UUID] | None = None
    ) -> VerifiedUpload | AppError:
        """Pin one staged object, then check it (size, format, MD5); return the error.

        The id goes into `pinned` when the store moved the upload to its private key.
        """
        try:
            return self._verify_pinned(user_id, item, set() if pinned is None else pinned)
        except FileNotFoundError:  # the object went while it was read
            return self._nothing_uploaded(item.id)
        except ObjectChanged:
            return self._changed(item.id)

    def _nothing_uploaded(self, image_id: uuid.UUID) -> NotFound:
        return NotFound(
            f"Nothing was uploaded for image {image_id}",
            "PUT the file's bytes to the upload URL of this image id first",
            image_id=image_id,
        )

    def _changed(self, image_id: uuid.UUID) -> Conflict:
        return Conflict(
            f"The upload of image {image_id} changed while it was being confirmed",
            "Notify again (with the MD5 of the bytes you uploaded last)",
            image_id=image_id,
        )

    def _verify_pinned(
        self, user_id: uuid.UUID, item: NotifyImage, pinned: set[uuid.UUID]
    ) -> VerifiedUpload | AppError:
        # From here on only the pinned object is read and kept: a PUT racing this notify
        # cannot change what is checked, nor slip other bytes in before the copy.
        key = staging_key(user_id, item.id)
        info = self.store.pin(key, pinned_key(user_id, item.id))
        if info is None:
            return self._nothing_uploaded(item.id)
        if info.key != key:
            pinned.add(item.id)
        limit = self.settings.max_image_bytes
        if info.size > limit:
            return TooLarge(
                f"Image {item.id} is {describe_size(info.size)}, "
                f"over the upload limit of {describe_size(limit)}",
                image_id=item.id,
            )
        try:
            # Ranged reads: the header and the end marker, not the whole object.
            ranged = RangedReader(PinnedRanges(self.store, info.etag), info.key, info.size)
            with io.BufferedReader(ranged, buffer_size=64 * 1024) as stream:
                image_info = inspect_image(stream, self.settings.max_image_pixels)
        except UnsupportedImage as exc:
            return UnsupportedMedia(
                f"Image {item.id} is not a supported image: {exc.reason}",
                image_id=item.id,
            )
        md5 = info.md5 or self.store.md5(info.key, info.etag)
        if md5 != item.hash.lower():
            return HashMismatch(
                f"The MD5 of image {item.id} is {md5}, not {item.hash.lower()} as given",
                image_id=item.id,
            )
        return VerifiedUpload(info.size, md5, image_info, info.key, info.etag)

    def confirm(self, user_id: uuid.UUID, items: Sequence[NotifyImage]) -> list[Image]:
        """Confirm a batch, all or nothing, checking each image in docs/API.md's order.

        The storage checks run here, in the caller's thread; the rows are written by the
        group committer, in one transaction with the batches of other callers waiting then.
        """
        if len(items) > self.settings.notify_batch_max:
            raise InvalidRequest(
                f"{len(items)} images in one batch; at most {self.settings.notify_batch_max}",
                "Split the images into batches of 5",
            )
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise InvalidRequest("The same image id appears twice in the batch")
        # The claim is a unit of work of its own, committed before the checks begin. It need
        # not survive a power cut: a lost claim only reopens the grants, and what a later
        # notify confirms is still exactly the pinned, checked bytes.
        with self.database.transaction(durable=False) as session:
            claim = self.grants.claim(session, user_id, ids)
        batch = PendingBatch(user_id, items, {}, claim=claim)
        try:
            batch.staged = {
                item.id: self.verify_staged(user_id, item, batch.pinned) for item in items
            }
            self.committer.submit(batch)
        except BaseException:
            self._release(batch)
            raise
        if batch.error is not None:
            self._release(batch)
            raise batch.error
        if batch.images is None:  # pragma: no cover - the group ended without a word on it
            raise RuntimeError(f"the batch of user {user_id} was not confirmed")
        return batch.images

    def _release(self, batch: PendingBatch) -> None:
        """A failed batch: free its claim, and close the URLs of uploads it pinned."""
        assert batch.claim is not None  # confirm() claims before anything can fail here
        ids = [item.id for item in batch.items]
        try:
            with self.database.transaction(durable=False) as session:
                self.grants.release(session, ids, batch.claim, sorted(batch.pinned))
        except Exception:
            # The claim then lapses after the claim lifetime; the notify's own error stands.
            log.exception("releasing the claim on %s failed", [str(i) for i in ids])

    def confirm_group(self, group: list[PendingBatch]) -> None:
        """Check each batch in arrival order, then write the accepted ones in one transaction."""
        accepted: list[PendingBatch] = []
        try:
            with self.database.transaction() as session:
                accepted = self._check_group(session, group)
                if accepted:
                    self._store_batches(session, accepted)
        except Exception as exc:  # the transaction is rolled back: nothing was confirmed
            for batch in accepted or group:
                batch.images, batch.error = None, batch.error or exc
            return
        metrics.NOTIFY_GROUPS.observe(len(group))
        metrics.UPLOADS.inc(sum(len(batch.items) for batch in accepted))
        metrics.UPLOAD_BYTES.inc(sum(v.size for b in accepted for v in b.verified.values()))

    def _check_group(self, session: Session, group: list[PendingBatch]) -> list[PendingBatch]:
        """The batches that pass every check; each other batch gets its error."""
        # Rows are locked in one order (users by id, then grants) so groups never deadlock.
        quotas = UserRepository(session).quotas(sorted({b.user_id for b in group}), True)
        repo = ImageRepository(session)
        ids = [item.id for batch in group for item in batch.items]
        owners = repo.owners(ids)
        holders = repo.grant_holders(ids)
        accepted: list[PendingBatch] = []
        claimed: set[uuid.UUID] = set()  # ids an earlier batch of this group confirms
        copied: list[str] = []
        # If the transaction does not commit, the copies go and the pinned uploads stay,
        # so the batches can be notified again; a crash before that is left to the sweeper.
        on_rollback(session, lambda: self.store.delete(copied))
        for batch in group:
            try:
                quota = self._quota(quotas.get(batch.user_id), batch.user_id)
                batch.verified = self._check_batch(batch, quota, owners, holders, claimed)
                copied.extend(self._copy_batch(batch))
            except AppError as exc:
                batch.error = exc
                continue
            # Counted now, so the next batch of the same user in this group meets its quota.
            quota.count += len(batch.items)
            claimed.update(item.id for item in batch.items)
            accepted.append(batch)
        return accepted

    def _check_batch(
        self,
        batch: PendingBatch,
        quota: Quota,
        owners: dict[uuid.UUID, uuid.UUID],
        holders: dict[uuid.UUID, tuple[uuid.UUID, datetime | None]],
        claimed: set[uuid.UUID],
    ) -> dict[uuid.UUID, VerifiedUpload]:
        verified: dict[uuid.UUID, VerifiedUpload] = {}
        for item in batch.items:
            if owners.get(item.id) == batch.user_id or item.id in claimed:
                raise Conflict(f"Image {item.id} is already confirmed", image_id=item.id)
            holder, claim = holders.get(item.id, (None, None))
            if holder != batch.user_id:
                raise NotFound(
                    f"Image id {item.id} was not issued to user {batch.user_id}", image_id=item.id
                )
            if claim is not None and claim != batch.claim:  # taken over: this one went stale
                raise Conflict(
                    f"Image {item.id} is being confirmed by another request", image_id=item.id
                )
            result = batch.staged[item.id]
            if isinstance(result, AppError):
                raise result
            verified[item.id] = result
        self._check_quota(quota, len(batch.items))
        return verified

    def _copy_batch(self, batch: PendingBatch) -> list[str]:
        """Copy exactly the checked objects to their permanent keys; 409 if one changed."""
        copied: list[str] = []
        for item in batch.items:
            upload = batch.verified[item.id]
            destination = permanent_key(batch.user_id, item.id)
            try:
                self.store.copy(upload.key, destination, upload.etag)
            except (ObjectChanged, FileNotFoundError):
                self.store.delete(copied)
                raise self._changed(item.id) from None
            except BaseException:
                self.store.delete(copied)
                raise
            copied.append(destination)
        return copied

    def _store_batches(self, session: Session, batches: list[PendingBatch]) -> None:
        repo = ImageRepository(session)
        # Core statements, one per table for the whole group: this runs holding the write
        # lock, and the ORM's unit of work cost more than the SQL it sent.
        now = self.clock()
        names = (tag.name.lower() for batch in batches for item in batch.items for tag in item.tags)
        tag_ids = repo.ensure_tags(names)
        rows: list[dict[str, object]] = []
        links: list[tuple[uuid.UUID, uuid.UUID]] = []
        entries: list[SearchEntry] = []
        scopes: Scopes = {}
        for batch in batches:
            first = len(rows)
            for item in batch.items:
                rows.append(self._image_row(batch.user_id, item, batch.verified[item.id], now))
                scopes[item.id] = scope_of(rows[-1])
                # Distinct times keep "newest first" stable within one batch.
                now += timedelta(microseconds=1)
                item_tags = sorted({tag.name.lower() for tag in item.tags})
                links.extend((item.id, tag_ids[name]) for name in item_tags)
                entries.append(SearchEntry(item.id, item.name, item_tags))
            batch.images = [Image(**row) for row in rows[first:]]  # for the answer only
        repo.insert_images(rows)
        repo.link_tags(links, scopes)
        self.search.index(session, entries)
        added = Counter(batch.user_id for batch in batches for _ in batch.items)
        users = UserRepository(session)
        for user_id, count in sorted(added.items()):
            users.add_uploads(user_id, count)
        ids = [item.id for batch in batches for item in batch.items]
        repo.delete_grants(ids)
        enqueue_analysis(session, ids)
        # Last before the commit: no row may outlive a power cut that its bytes do not. The
        # permanent keys are links to bytes their PUT synced; only their folders' entries
        # remain. The pinned entries are not synced: they go after the commit, and one a
        # power cut brings back is a leftover for the sweeper.
        self.store.sync(permanent_key(b.user_id, item.id) for b in batches for item in b.items)
        staged = [
            key(b.user_id, item.id)
            for b in batches
            for item in b.items
            for key in (staging_key, pinned_key)
        ]
        after_commit(session, lambda: self.store.delete(staged))
        after_commit(session, self.jobs_queued)  # a worker or the outbox relay may start now

    def _image_row(
        self, user_id: uuid.UUID, item: NotifyImage, upload: VerifiedUpload, created: datetime
    ) -> dict[str, object]:
        return {
            "id": item.id,
            "user_id": user_id,
            "name": item.name,
            "hash": upload.md5,
            "size_bytes": upload.size,
            "file_format": upload.info.file_format,
            "width": upload.info.width,
            "height": upload.info.height,
            "is_private": item.is_private,
            "storage_key": permanent_key(user_id, item.id),
            "analysis_status": "pending",
            "created_at": created,
        }
