"""Group commit: requests that arrive while a transaction is running share the next one.

SQLite has one writer at a time. With many clients confirming uploads at once, each request
waited for the write lock, then held it through a dozen statements, each of which gives up
the GIL and waits for it again on a busy server: the lock, not the CPU, set the pace
(bench/bench_ingest.py). Here one caller at a time leads: it takes every request waiting
(up to `max_group`), runs them together, and wakes their callers; a caller whose request
was run by another leader returns without touching the database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

Request = TypeVar("Request")


@dataclass
class _Slot(Generic[Request]):
    request: Request
    done: bool = False


class GroupCommitter(Generic[Request]):
    """Runs concurrent callers' requests in groups, one group at a time, in arrival order."""

    def __init__(self, run_group: Callable[[list[Request]], None], max_group: int = 16) -> None:
        self._run_group = run_group
        self._max_group = max_group
        self._changed = threading.Condition()
        self._waiting: list[_Slot[Request]] = []
        self._leading = False

    @property
    def waiting(self) -> int:
        """How many requests wait for a leader to take them."""
        with self._changed:
            return len(self._waiting)

    def submit(self, request: Request) -> None:
        """Return once `request` has been run, by this thread or by another caller's."""
        slot = _Slot(request)
        with self._changed:
            self._waiting.append(slot)
        while True:
            with self._changed:
                while self._leading and not slot.done:
                    self._changed.wait()
                if slot.done:
                    return
                self._leading = True
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
            try:
                self._run_group([member.request for member in group])
            finally:
                with self._changed:
                    for member in group:
                        member.done = True
                    self._leading = False
                    self._changed.notify_all()
