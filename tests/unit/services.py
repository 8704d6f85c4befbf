"""Real services wired as bootstrap wires them, over fakes, for the service tier's tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bitimage.analysis.service import AnalysisService
from bitimage.analysis.tasks import AnalysisTasks
from bitimage.config import Settings
from bitimage.db.session import Database
from bitimage.images.purges import Purger
from bitimage.images.repository import ImageRepository
from bitimage.images.schemas import NotifyImage
from bitimage.images.service import ImageService
from bitimage.images.uploads import UploadService
from bitimage.queue.models import Job
from bitimage.users.models import User
from bitimage.users.service import UserService
from tests.fakes import FakeJobQueue, FakeUnitOfWork, MemoryStore, RecordingSearchIndex
from tests.support import make_jpeg, md5


@dataclass
class Services:
    """The real services wired as bootstrap wires them, over fakes of the store, index, queue."""

    settings: Settings
    engine: Engine
    store: MemoryStore = field(default_factory=MemoryStore)
    search: RecordingSearchIndex = field(default_factory=RecordingSearchIndex)
    queue: FakeJobQueue = field(default_factory=FakeJobQueue)
    purged: list[tuple[str, bool]] = field(default_factory=list)  # (key, is_prefix) recorded

    def __post_init__(self) -> None:
        self.uow = FakeUnitOfWork(self.engine)
        self.database = Database(self.engine)
        self.purger = Purger(self.database, self.store)
        self.images = ImageService(self.settings, self.store, self.search, self._purge)
        self.users = UserService(self.settings, on_account_deleted=[self.images.delete_all_of_user])
        self.uploads = UploadService(self.settings, self.database, self.store, self.search)

    def _purge(self, purge_ids: Sequence[int]) -> None:
        # What the deleting transaction recorded, read before the purger carries it out.
        found = self.uow(lambda s: ImageRepository(s).purges(purge_ids))
        self.purged.extend((p.key, p.is_prefix) for p in found)
        self.purger.run(purge_ids)

    def new_user(self, limit: int | None = None) -> uuid.UUID:
        """A fresh account with this image limit (None: unlimited)."""
        user_id = uuid.uuid4()

        def create(session: Session) -> None:
            self.users.create(session, user_id).image_upload_limit = limit

        self.uow(create)
        return user_id

    def stage(self, user_id: uuid.UUID, payloads: list[bytes]) -> list[NotifyImage]:
        """Issue URLs, PUT the bytes through them, and the notify items naming them."""
        urls = self.uow(lambda s: self.uploads.issue_upload_urls(s, user_id, len(payloads)))
        items = []
        for url, data in zip(urls, payloads, strict=True):
            key = self.store.grant(url.url, "PUT")
            assert key is not None
            self.store.put(key, data)
            items.append(item(url.image_id, data))
        return items

    def relay(self) -> None:
        """Move the outbox's queued jobs into the fake queue, as the outbox relay does."""

        def take(session: Session) -> list[Job]:
            jobs = list(session.scalars(select(Job).where(Job.state == "queued")))
            for job in jobs:
                session.delete(job)
            return jobs

        for job in self.uow(take):
            self.queue.put(job.kind, job.image_id, job.payload)

    def count(self, user_id: uuid.UUID) -> int:
        """The user's image count as stored."""
        user = self.uow(lambda s: s.get(User, user_id))
        assert user is not None
        return user.image_upload_count

    def analysis_tasks(self, analysis: AnalysisService) -> AnalysisTasks:
        """The analysis job's entrypoint over this database."""
        return AnalysisTasks(self.database, analysis)


def item(image_id: uuid.UUID, data: bytes, name: str = "photo.jpg") -> NotifyImage:
    """A notify item for these bytes."""
    return NotifyImage(id=image_id, name=name, hash=md5(data))


def jpeg(seed: int) -> bytes:
    """A small real JPEG whose bytes differ per seed."""
    return make_jpeg(16, 12, seed=seed)
