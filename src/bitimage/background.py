"""The embedded worker: a thread in the server process running periodic maintenance."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("bitimage.worker")


class PeriodicRunner:
    """Calls `task` every `interval` seconds on its own thread until stopped."""

    def __init__(self, name: str, task: Callable[[], object], interval: float) -> None:
        self._task = task
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish and wait for it."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._task()
            except Exception:
                # One failed pass (a store briefly down) must not end maintenance for good.
                log.exception("maintenance pass failed; retrying in %.0f s", self._interval)
            self._stop.wait(self._interval)
