"""The queue port: where workers take analysis jobs from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol


class QueueUnavailable(Exception):
    """The queue's server cannot be reached or refused the command; nothing was lost."""


@dataclass(frozen=True)
class ReservedJob:
    """A job a worker holds until it deletes, releases or buries it."""

    id: uuid.UUID
    kind: str
    image_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class QueueStats:
    """How many of the queue's jobs are in each state (`/metrics` shows them)."""

    ready: int
    delayed: int
    reserved: int
    buried: int


class JobQueue(Protocol):
    """Reserve / delete / release / bury, the Beanstalkd verbs, for any backend."""

    def reserve(self, timeout_seconds: float) -> ReservedJob | None:
        """Take the next ready job for `ttr` seconds, or None after waiting `timeout_seconds`."""
        ...

    def delete(self, job: ReservedJob) -> None:
        """The job is done."""
        ...

    def release(self, job: ReservedJob, delay_seconds: float, error: str) -> None:
        """Put the job back to be retried after `delay_seconds`."""
        ...

    def bury(self, job: ReservedJob, error: str) -> None:
        """Set the job aside for good (it kept failing)."""
        ...
