"""Which handler runs each job kind: every feature declares its kinds in its own tasks.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bitimage.queue.ports import ReservedJob
from bitimage.queue.worker import Handler, PermanentJobError


@dataclass(frozen=True)
class JobKind:
    """A kind's handler, and what to record when one of its jobs is given up."""

    handle: Handler
    give_up: Callable[[ReservedJob, str], None] | None = None


class JobRegistry:
    """`{kind: handler}`, filled at start by each feature's `register` (see bootstrap)."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        kind: str,
        handle: Handler,
        give_up: Callable[[ReservedJob, str], None] | None = None,
    ) -> None:
        """Declare the handler of `kind`; a kind has exactly one."""
        if kind in self._kinds:
            raise ValueError(f"job kind {kind!r} is registered twice")
        self._kinds[kind] = JobKind(handle, give_up)

    @property
    def kinds(self) -> list[str]:
        """The registered kinds, in registration order."""
        return list(self._kinds)

    def handle(self, job: ReservedJob) -> None:
        """Run `job` with its kind's handler; an unknown kind can never succeed."""
        kind = self._kinds.get(job.kind)
        if kind is None:
            raise PermanentJobError(f"unknown job kind {job.kind!r}")
        kind.handle(job)

    def give_up(self, job: ReservedJob, reason: str) -> None:
        """Tell the job's kind that it was set aside (`reason` is shown to the owner)."""
        kind = self._kinds.get(job.kind)
        if kind is not None and kind.give_up is not None:
            kind.give_up(job, reason)
