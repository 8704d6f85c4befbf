"""The sweeper: removes uploads whose URL expired unconfirmed, and carries out pending purges.

It is a periodic entrypoint: each of its steps is a unit of work of its own, opened here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bitimage import metrics
from bitimage.db.base import utcnow
from bitimage.db.session import Database
from bitimage.images.models import Image, UploadGrant
from bitimage.images.purges import Purger
from bitimage.images.repository import ImageRepository
from bitimage.storage.keys import (
    PINNED_PREFIX,
    STAGING_PREFIX,
    image_id_of,
    permanent_key,
    pinned_key,
)
from bitimage.storage.ports import ObjectStore

_BATCH = 500


@dataclass
class SweepReport:
    """What one sweep removed."""

    expired_grants: int = 0
    orphaned_objects: int = 0
    purges: int = 0


class StagingSweeper:
    """Keeps storage free of bytes that no row will ever point to."""

    def __init__(
        self,
        database: Database,
        store: ObjectStore,
        purger: Purger,
        upload_url_ttl_seconds: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.store = store
        self.purger = purger
        self.ttl = timedelta(seconds=upload_url_ttl_seconds)
        self.clock = clock

    def sweep(self) -> SweepReport:
        """One full pass: expired grants, orphaned staging and pinned objects, pending purges."""
        report = SweepReport()
        while (count := self._expire_grants()) > 0:
            report.expired_grants += count
        report.orphaned_objects = self._remove_orphans()
        metrics.SWEPT_GRANTS.inc(report.expired_grants)
        metrics.SWEPT_ORPHANS.inc(report.orphaned_objects)
        while (count := self.purger.run()) > 0:
            report.purges += count
        return report

    def _expire_grants(self) -> int:
        now = self.clock()
        with self.database.transaction() as session:
            expired = select(UploadGrant.image_id).where(UploadGrant.expires_at < now).limit(_BATCH)
            # Only grants this statement really deleted are purged: a notify that holds a
            # grant commits first, and then its grant is no longer here to be returned.
            gone = session.execute(
                delete(UploadGrant)
                .where(UploadGrant.image_id.in_(expired))
                .returning(UploadGrant.image_id, UploadGrant.user_id, UploadGrant.staging_key)
            ).all()
            if not gone:
                return 0
            confirmed = set(
                session.scalars(select(Image.id).where(Image.id.in_([g[0] for g in gone])))
            )
            repo = ImageRepository(session)
            for image_id, user_id, key in gone:
                repo.add_purge(key)
                repo.add_purge(pinned_key(user_id, image_id))  # what a notify moved aside
                if image_id not in confirmed:  # a copy left by a notify that never committed
                    repo.add_purge(permanent_key(user_id, image_id))
            return len(gone)

    def _remove_orphans(self) -> int:
        cutoff = self.clock() - self.ttl
        stale = [
            info.key
            for prefix in (STAGING_PREFIX, PINNED_PREFIX)
            for info in self.store.list(prefix)
            if info.modified_at < cutoff
        ]
        removed = 0
        for start in range(0, len(stale), _BATCH):
            keys = stale[start : start + _BATCH]
            with self.database.transaction(write=False) as session:
                live = ImageRepository(session).live_grant_ids([image_id_of(k) for k in keys])
            orphans = [k for k in keys if image_id_of(k) not in live]
            self.store.delete(orphans)
            removed += len(orphans)
        return removed
