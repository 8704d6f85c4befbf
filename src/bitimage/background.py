"""Background threads of a process: periodic maintenance, the outbox relay, the workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bitimage.bootstrap import Container

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


class BackgroundServices:
    """What a process runs beside its requests: relay, and when it is a worker, the rest."""

    def __init__(self, container: Container, *, worker: bool, sweeper: bool) -> None:
        self._container = container
        settings = container.settings
        self._sweeper = (
            PeriodicRunner(
                "bitimage-sweeper", container.sweeper.sweep, settings.sweep_interval_seconds
            )
            if sweeper
            else None
        )
        # The vector index's upkeep is maintenance too: it runs where the sweeper runs.
        self._vectors = (
            PeriodicRunner(
                "bitimage-vectors",
                container.vector_upkeep.run,
                settings.vector_upkeep_interval_seconds,
            )
            if sweeper
            else None
        )
        # So are SQLite's planner statistics: gathered again as the library grows.
        self._statistics = (
            PeriodicRunner(
                "bitimage-statistics",
                container.statistics.run,
                settings.statistics_interval_seconds,
            )
            if sweeper
            else None
        )
        self._pool = container.worker_pool(settings.worker_concurrency) if worker else None

    def start(self) -> None:
        """Start the relay (every process that writes jobs), the sweeper and the workers."""
        if self._container.relay is not None:
            self._container.relay.start()
        if self._sweeper is not None:
            self._sweeper.start()
        if self._vectors is not None:
            self._vectors.start()
        if self._statistics is not None:
            self._statistics.start()
        if self._pool is not None:
            self._pool.start()

    def stop(self) -> None:
        """Stop taking new work; jobs in hand finish first."""
        if self._pool is not None:
            self._pool.stop()
        if self._sweeper is not None:
            self._sweeper.stop()
        if self._vectors is not None:
            self._vectors.stop()
        if self._statistics is not None:
            self._statistics.stop()
        if self._container.relay is not None:
            self._container.relay.stop()
