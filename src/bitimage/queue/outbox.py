"""Writing jobs in the caller's transaction, so a job exists exactly when its data does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session

from bitimage.db.base import utcnow
from bitimage.queue.models import Job

JOB_SCHEMA_VERSION = 1
# Built once and naming the table: it runs in the notify transaction, under the write lock.
_INSERT_JOBS = insert(cast(Table, Job.__table__))


def enqueue_analysis(
    session: Session, image_ids: Iterable[uuid.UUID], analysers: list[str] | None = None
) -> None:
    """Queue one analysis job per image (all analysers, or just these), in the transaction."""
    extra: dict[str, Any] = {} if analysers is None else {"analysers": analysers}
    enqueue_jobs(session, "analyze", image_ids, extra)


def enqueue_jobs(
    session: Session,
    kind: str,
    image_ids: Iterable[uuid.UUID],
    extra: dict[str, Any] | None = None,
) -> None:
    """Queue one job of `kind` per image, in the caller's transaction."""
    now = utcnow()
    extra = extra or {}
    rows = [
        {
            "id": uuid.uuid4(),
            "kind": kind,
            "image_id": image_id,
            "payload": {"v": JOB_SCHEMA_VERSION, "image_id": str(image_id), **extra},
            "state": "queued",
            "attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        for image_id in image_ids
    ]
    if rows:
        session.execute(_INSERT_JOBS, rows)


def drop_jobs_for(session: Session, image_ids: Iterable[uuid.UUID]) -> None:
    """Drop every job about these images (they are being deleted)."""
    ids = list(image_ids)
    for start in range(0, len(ids), 500):
        session.execute(delete(Job).where(Job.image_id.in_(ids[start : start + 500])))
