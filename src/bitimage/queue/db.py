"""DbJobQueue: the jobs table itself is the queue (db://), durable with the database."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update

from bitimage.db.base import utcnow
from bitimage.db.session import Database
from bitimage.queue.models import Job
from bitimage.queue.ports import QueueStats, ReservedJob


class DbJobQueue:
    """Reserves jobs with a lease: a worker that dies leaves its job to be taken after `ttr`."""

    def __init__(
        self, database: Database, ttr_seconds: float = 300.0, kinds: tuple[str, ...] = ("analyze",)
    ) -> None:
        self._db = database
        self._ttr = timedelta(seconds=ttr_seconds)
        self._kinds = kinds
        self._wakeup = threading.Event()

    def notify(self) -> None:
        """Wake a waiting reserve() early (called after a commit that queued work)."""
        self._wakeup.set()

    def reserve(self, timeout_seconds: float) -> ReservedJob | None:
        """Take the oldest ready job, or None once `timeout_seconds` passed with none."""
        deadline = utcnow() + timedelta(seconds=timeout_seconds)
        while True:
            job = self._try_reserve()
            if job is not None or utcnow() >= deadline:
                return job
            self._wakeup.clear()
            self._wakeup.wait(min(1.0, max(0.0, (deadline - utcnow()).total_seconds())))

    def _try_reserve(self) -> ReservedJob | None:
        now = utcnow()
        with self._db.transaction() as session:
            row = session.scalars(
                select(Job)
                .where(
                    Job.kind.in_(self._kinds),
                    or_(
                        (Job.state == "queued") & (Job.available_at <= now),
                        (Job.state == "reserved") & (Job.reserved_until < now),
                    ),
                )
                .order_by(Job.available_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            row.state = "reserved"
            row.reserved_until = now + self._ttr
            row.attempts += 1
            return ReservedJob(row.id, row.kind, row.image_id, dict(row.payload), row.attempts)

    def stats(self) -> QueueStats:
        """Jobs by state; a lease that lapsed counts as ready (any worker may take it)."""
        now = utcnow()
        queued, reserved = Job.state == "queued", Job.state == "reserved"
        lapsed = reserved & (Job.reserved_until < now)
        counts = [
            func.count().filter((queued & (Job.available_at <= now)) | lapsed),
            func.count().filter(queued & (Job.available_at > now)),
            func.count().filter(reserved & (Job.reserved_until >= now)),
            func.count().filter(Job.state == "buried"),
        ]
        with self._db.transaction(write=False) as session:
            row = session.execute(select(*counts).where(Job.kind.in_(self._kinds))).one()
        return QueueStats(*(int(value) for value in row))

    def delete(self, job: ReservedJob) -> None:
        """Remove a finished job."""
        with self._db.transaction() as session:
            session.execute(delete(Job).where(Job.id == job.id))

    def release(self, job: ReservedJob, delay_seconds: float, error: str) -> None:
        """Make the job ready again after a delay."""
        with self._db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(
                    state="queued",
                    reserved_until=None,
                    available_at=utcnow() + timedelta(seconds=delay_seconds),
                    last_error=error,
                )
            )

    def bury(self, job: ReservedJob, error: str) -> None:
        """Keep the job for inspection; no worker takes it again."""
        with self._db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(state="buried", reserved_until=None, last_error=error)
            )
