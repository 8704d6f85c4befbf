"""Carrying out storage purges: an entrypoint (after a commit, or the sweeper), never a step of one.

The keys to remove are written in the transaction that deletes the rows; the objects go after
it commits, with no transaction held while the store works (a prefix may hold many objects).
"""

from __future__ import annotations

from collections.abc import Sequence

from bitimage import metrics
from bitimage.db.session import Database
from bitimage.images.repository import ImageRepository
from bitimage.storage.ports import ObjectStore


class Purger:
    """Deletes the objects of pending purges, then their rows."""

    def __init__(self, database: Database, store: ObjectStore) -> None:
        self.database = database
        self.store = store

    def run(self, purge_ids: Sequence[int] | None = None, batch: int = 100) -> int:
        """Delete the objects of pending purges (these, or the oldest `batch`); return how many."""
        with self.database.transaction(write=False) as session:
            repo = ImageRepository(session)
            found = repo.purges(purge_ids) if purge_ids is not None else repo.pending_purges(batch)
            pending = [(p.id, p.key, p.is_prefix) for p in found]
        for _, key, is_prefix in pending:
            if is_prefix:
                self.store.delete_prefix(key)
            else:
                self.store.delete([key])
        done = [purge_id for purge_id, _, _ in pending]
        self.database.run(lambda session: ImageRepository(session).delete_purges(done))
        metrics.PURGES.inc(len(pending))
        return len(pending)
