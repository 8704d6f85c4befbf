"""The analysis job, as three visible steps, and the job kinds this feature declares.

A model may run for seconds: no transaction is held while it does. The job reads the image's
key in a short read, analyses outside any transaction, then stores every result in one unit
of work that `Database.run` re-runs whole should it lose a deadlock to a delete.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from bitimage.analysis.service import AnalysisService
from bitimage.db.session import Database
from bitimage.queue.ports import ReservedJob
from bitimage.queue.registry import JobRegistry
from bitimage.queue.worker import PermanentJobError

ANALYZE = "analyze"


class AnalysisTasks:
    """The entrypoints of the analysis worker: each opens its own unit of work."""

    def __init__(
        self,
        database: Database,
        analysis: AnalysisService,
        first_steps: Sequence[Callable[[uuid.UUID], None]] = (),
    ) -> None:
        self.database = database
        self.analysis = analysis
        # Steps of other features run before the models, each its own units of work (the
        # renditions: pages fill before labels arrive). Wired in bootstrap: analysis imports
        # no feature above it.
        self.first_steps = tuple(first_steps)

    def analyse_image(self, image_id: uuid.UUID, only: Sequence[str] | None = None) -> bool:
        """First steps, then load, analyse (no transaction held), store; False if gone."""
        for step in self.first_steps:
            step(image_id)
        with self.database.transaction(write=False) as session:
            key = self.analysis.storage_key(session, image_id)
        if key is None:
            return False
        found = self.analysis.analyse(key, only)
        if found is None:
            return False
        return self.database.run(lambda session: self.analysis.save(session, image_id, found))

    def handle(self, job: ReservedJob) -> None:
        """Run one `analyze` job (its payload may name the analysers to run again)."""
        if job.image_id is None:
            raise PermanentJobError("an analyze job names its image")
        only = job.payload.get("analysers")  # set by `bitimage reanalyze --analyser`
        self.analyse_image(job.image_id, only if isinstance(only, list) else None)

    def give_up(self, job: ReservedJob, reason: str) -> None:
        """Record on the image that its analysis was given up."""
        image_id = job.image_id
        if image_id is not None:
            self.database.run(lambda session: self.analysis.mark_failed(session, image_id, reason))

    def register(self, registry: JobRegistry) -> None:
        """Declare this feature's job kinds."""
        registry.register(ANALYZE, self.handle, self.give_up)
