"""The rendition step and its entrypoints: each opens its own units of work.

The step runs first in every analyze job (bootstrap hands `render_image` to AnalysisTasks as
its first step) and as the `render` job kind this feature registers, which a request queues
for an image confirmed before renditions existed. Like the analysis, it reads in a short
transaction, works with none held, then records in one `Database.run`.
"""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from bitimage.db.session import Database
from bitimage.imaging import UnsupportedImage
from bitimage.queue.outbox import enqueue_jobs
from bitimage.queue.ports import ReservedJob
from bitimage.queue.registry import JobRegistry
from bitimage.queue.worker import PermanentJobError
from bitimage.renditions.repository import RenditionRepository
from bitimage.renditions.service import RenditionService

RENDER = "render"
log = logging.getLogger("bitimage.renditions")
_UNDECODABLE = (UnsupportedImage, OSError, ValueError, SyntaxError, EOFError, struct.error)


class RenditionTasks:
    """Make renditions and stripped copies, and record them on the image."""

    def __init__(
        self,
        database: Database,
        renditions: RenditionService,
        jobs_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.database = database
        self.renditions = renditions
        self.jobs_queued = jobs_queued

    def render_image(self, image_id: uuid.UUID) -> bool:
        """Make what the image lacks (renditions; a stripped copy if public); False if gone.

        Raises PermanentJobError when the picture cannot be decoded; a store that fails
        raises its own error, and the job is tried again later.
        """
        with self.database.transaction(write=False) as session:
            target = RenditionRepository(session).target(image_id)
        if target is None:
            return False
        if target.rendered and not target.wants_public_copy:
            return True  # a retried job, or a reanalysis: made once, kept
        key = target.storage_key
        try:
            made = self.renditions.make(
                key, target.file_format, not target.rendered, target.wants_public_copy
            )
        except FileNotFoundError:
            return False  # deleted since: its rows are going too
        except _UNDECODABLE as exc:
            raise PermanentJobError("could not make the renditions") from exc
        kept = self.database.run(
            lambda session: RenditionRepository(session).record(
                image_id, made.placeholder, made.public_copy
            )
        )
        if not kept:  # deleted while we worked: its purge may have run before our writes
            self.renditions.discard(key)
        return kept

    def first_step(self, image_id: uuid.UUID) -> None:
        """The analyze job's first step: a picture no step can decode still gets analysed.

        The analysis then reports the decoding failure itself; the image is marked as
        rendered without renditions, so no request queues it again.
        """
        try:
            self.render_image(image_id)
        except PermanentJobError as exc:
            log.warning("renditions of image %s: %s (%s)", image_id, exc, exc.__cause__)
            self._mark_unrenderable(image_id)

    def _mark_unrenderable(self, image_id: uuid.UUID) -> None:
        self.database.run(
            lambda session: RenditionRepository(session).record(image_id, None, False, True)
        )

    def public_copies(self, images: Sequence[tuple[uuid.UUID, str, str]]) -> None:
        """Make the stripped copies of these (id, key, format) images now, for a stranger."""
        made = []
        for image_id, key, file_format in images:
            try:
                self.renditions.make_public_copy(key, file_format)
            except FileNotFoundError:
                continue  # deleted since
            made.append((image_id, key))
        if not made:
            return
        ids = [image_id for image_id, _ in made]
        kept = self.database.run(
            lambda session: RenditionRepository(session).record_public_copies(ids)
        )
        for image_id, key in made:
            if image_id not in kept:
                self.renditions.discard(key)

    def request_renditions(self, image_ids: Sequence[uuid.UUID]) -> None:
        """Queue a `render` job for each of these images that lacks renditions and a job."""

        def queue(session: Session) -> int:
            ids = RenditionRepository(session).without_render_job(image_ids)
            enqueue_jobs(session, RENDER, ids)
            return len(ids)

        if self.database.run(queue):
            self.jobs_queued()

    def handle(self, job: ReservedJob) -> None:
        """Run one `render` job."""
        if job.image_id is None:
            raise PermanentJobError("a render job names its image")
        self.render_image(job.image_id)

    def give_up(self, job: ReservedJob, reason: str) -> None:
        """Renditions that cannot be made: the image shows none, and is not queued again."""
        if job.image_id is not None:
            self._mark_unrenderable(job.image_id)

    def register(self, registry: JobRegistry) -> None:
        """Declare this feature's job kinds."""
        registry.register(RENDER, self.handle, self.give_up)
