"""OutboxRelay: moves the job rows written with the data (the outbox) into the broker's tube."""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, select

from bitimage.db.base import utcnow
from bitimage.db.session import Database
from bitimage.queue.models import Job
from bitimage.queue.outbox import JOB_SCHEMA_VERSION
from bitimage.queue.ports import QueueUnavailable

log = logging.getLogger("bitimage.queue")


class Publisher(Protocol):
    """Where the relay puts jobs: BeanstalkJobQueue, or any broker client alike."""

    def ping(self) -> None:
        """Return if the broker answers, else raise QueueUnavailable."""
        ...

    def put(self, body: dict[str, Any]) -> None:
        """Add one job; raise QueueUnavailable if it could not be added."""
        ...


def message_for(job: Job) -> dict[str, Any]:
    """The versioned body a job row is published as: its payload plus job_id, kind, image_id."""
    return {
        "v": JOB_SCHEMA_VERSION,
        **job.payload,
        "job_id": str(job.id),
        "kind": job.kind,
        "image_id": None if job.image_id is None else str(job.image_id),
    }


class OutboxRelay:
    """Publishes queued job rows to the broker, then deletes them, oldest first.

    Delivery is at least once: a crash (or a failed commit) between a put and the delete of its
    row leaves the row to be published again, so a job may reach the tube twice. That is fine
    because analysis is idempotent: it recomputes an image's labels and overwrites them.
    Rows are deleted rather than marked "relayed": once in the tube nothing reads them again,
    and deleting keeps the table to pending work only, with no pruning to schedule.
    Safe with several processes relaying at once: each batch is claimed with
    SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's write lock serialises batches.
    """

    def __init__(self, database: Database, publisher: Publisher, batch: int = 100) -> None:
        self._db = database
        self._publisher = publisher
        self._batch = batch
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False

    def ping(self) -> None:
        """Raise QueueUnavailable if the broker does not answer."""
        self._publisher.ping()

    def relay_once(self) -> int:
        """Publish every due row; return how many moved (it stops at the first failed put)."""
        moved = 0
        while True:
            count, failed = self._relay_batch()
            moved += count
            if failed or count < self._batch:
                return moved

    def wake(self) -> None:
        """Run a pass now (call after a commit that queued jobs)."""
        self._wakeup.set()

    def start(self, interval_seconds: float = 5.0) -> None:
        """Relay on a daemon thread: at each wake() and every `interval_seconds`."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval_seconds,), name="outbox-relay", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread started by start() and wait for it."""
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            # Cleared before the pass, so a commit during it gets a pass of its own.
            self._wakeup.clear()
            try:
                self.relay_once()
            except Exception:
                # A database hiccup must not end relaying for good: rows wait for the next pass.
                log.exception("outbox relay pass failed; retrying in %.0f s", interval)
            self._wakeup.wait(interval)

    def _relay_batch(self) -> tuple[int, bool]:
        due = _due()
        # Read first: an idle outbox must not take SQLite's write lock at every pass.
        with self._db.transaction(write=False) as session:
            if session.scalars(select(Job.id).where(due).limit(1)).first() is None:
                return 0, False
        # And find the broker down before holding the write lock across a connect timeout.
        try:
            self._publisher.ping()
        except QueueUnavailable as exc:
            self._note_down(exc)
            return 0, True
        published = []
        with self._db.transaction() as session:
            rows = session.scalars(
                select(Job)
                .where(due)
                .order_by(Job.available_at)
                .limit(self._batch)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                try:
                    self._publisher.put(message_for(row))
                except QueueUnavailable as exc:
                    self._note_down(exc)
                    break
                published.append(row.id)
            if published:
                session.execute(delete(Job).where(Job.id.in_(published)))
        if len(published) < len(rows):
            return len(published), True
        if self._down:
            log.info("job broker reachable again; relaying the outbox")
            self._down = False
        return len(published), False

    def _note_down(self, exc: QueueUnavailable) -> None:
        if not self._down:
            log.warning("job broker unavailable; jobs wait in the outbox: %s", exc)
        self._down = True


def _due() -> ColumnElement[bool]:
    return and_(Job.state == "queued", Job.available_at <= utcnow())
