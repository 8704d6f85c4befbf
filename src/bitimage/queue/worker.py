"""The job loop: reserve a job, run its handler, then delete, release (with backoff) or bury."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bitimage import metrics
from bitimage.errors import AppError
from bitimage.queue.ports import JobQueue, ReservedJob

log = logging.getLogger("bitimage.worker")


class JobFailed(Exception):
    """A failure told in words fit for the image's owner: no server path, no stack frame."""


class PermanentJobError(JobFailed):
    """Retrying cannot help (the image cannot be decoded): give up at once."""


def public_reason(exc: BaseException) -> str:
    """What the image's owner may read about a failure; the rest goes to the server log."""
    if isinstance(exc, JobFailed):
        return str(exc)
    if isinstance(exc, AppError):  # written for clients already
        return exc.message
    # Any other message may name a file or a host of this server: its class alone is shown.
    return f"the analysis failed: {type(exc).__name__}"


Handler = Callable[[ReservedJob], None]
# Told when a job is set aside for good, with the reason its owner may read.
GiveUp = Callable[[ReservedJob, str], None]


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """The growing wait before attempt `attempts + 1`: base, 2 base, 4 base... up to cap."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def _full(exc: BaseException) -> str:
    """The exception and its first cause, for the server's log and the queue's own record."""
    cause = exc.__cause__
    text = f"{type(exc).__name__}: {exc}"
    return text if cause is None else f"{text}; caused by {type(cause).__name__}: {cause}"


class Worker:
    """One consumer: takes jobs one at a time until its stop event is set."""

    def __init__(
        self,
        queue: JobQueue,
        handler: Handler,
        give_up: GiveUp,
        max_attempts: int,
        base_delay: float = 5.0,
        max_delay: float = 600.0,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.give_up = give_up
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay

    def run_once(self, timeout_seconds: float = 1.0) -> bool:
        """Handle at most one job; True if one was taken."""
        job = self.queue.reserve(timeout_seconds)
        if job is None:
            return False
        try:
            self.handler(job)
        except PermanentJobError as exc:
            self._bury(job, exc, public_reason(exc))
        except Exception as exc:
            if job.attempts >= self.max_attempts:
                shown = f"gave up after {job.attempts} attempts: {public_reason(exc)}"
                self._bury(job, exc, shown)
            else:
                metrics.JOBS.labels(job.kind, "retried").inc()
                delay = retry_delay(job.attempts, self.base_delay, self.max_delay)
                log.warning(
                    "job %s failed (%s); retrying in %.0f s",
                    job.id,
                    _full(exc),
                    delay,
                    exc_info=exc,
                )
                self.queue.release(job, delay, _full(exc))
        else:
            self.queue.delete(job)
            metrics.JOBS.labels(job.kind, "done").inc()
        return True

    def _bury(self, job: ReservedJob, exc: Exception, shown: str) -> None:
        # The owner reads `shown`; the operator gets the whole exception, causes included.
        log.error("job %s set aside: %s", job.id, shown, exc_info=exc)
        metrics.JOBS.labels(job.kind, "buried").inc()
        self.give_up(job, shown)
        self.queue.bury(job, f"{shown} ({_full(exc)})")

    def run(self, stop: threading.Event, idle_wait: float = 1.0) -> None:
        """Loop until `stop` is set; a failing queue is retried, never ends the loop."""
        while not stop.is_set():
            try:
                self.run_once(idle_wait)
            except Exception:
                # The queue itself failed (database or beanstalkd down): wait, then go on.
                log.exception("the job queue failed; trying again shortly")
                stop.wait(idle_wait * 5)


class WorkerPool:
    """`concurrency` workers on their own threads, sharing one queue and handler."""

    def __init__(self, workers: list[Worker], name: str = "bitimage-worker") -> None:
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=w.run, args=(self._stop,), name=f"{name}-{n}", daemon=True)
            for n, w in enumerate(workers)
        ]

    def start(self) -> None:
        """Start every worker thread."""
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Let each worker finish its job in hand, then wait for the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
