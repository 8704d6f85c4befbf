"""The job loop with a hand-written fake queue: delete, release with backoff, bury, give up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from bitimage.queue.ports import ReservedJob
from bitimage.queue.worker import PermanentJobError, Worker, retry_delay


@dataclass
class FakeQueue:
    """Hands out one job again and again, counting attempts; records what the worker did."""

    job_id: uuid.UUID = field(default_factory=uuid.uuid4)
    image_id: uuid.UUID = field(default_factory=uuid.uuid4)
    attempts: int = 0
    done: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def reserve(self, timeout_seconds: float) -> ReservedJob | None:
        if self.done and self.done[-1] in ("deleted", "buried"):
            return None
        self.attempts += 1
        payload = {"v": 1, "image_id": str(self.image_id)}
        return ReservedJob(self.job_id, "analyze", self.image_id, payload, self.attempts)

    def delete(self, job: ReservedJob) -> None:
        self.done.append("deleted")

    def release(self, job: ReservedJob, delay_seconds: float, error: str) -> None:
        self.done.append("released")
        self.delays.append(delay_seconds)
        self.errors.append(error)

    def bury(self, job: ReservedJob, error: str) -> None:
        self.done.append("buried")
        self.errors.append(error)


def _worker(queue: FakeQueue, outcomes: list[Exception | None], gave_up: list[str]) -> Worker:
    def handler(job: ReservedJob) -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    return Worker(queue, handler, lambda _i, reason: gave_up.append(reason), max_attempts=4)


def test_success_deletes_the_job() -> None:
    queue, gave_up = FakeQueue(), list[str]()
    worker = _worker(queue, [None], gave_up)
    assert worker.run_once(0) is True
    assert worker.run_once(0) is False
    assert (queue.done, gave_up) == (["deleted"], [])


def test_transient_failures_are_retried_with_growing_delays_then_succeed() -> None:
    queue, gave_up = FakeQueue(), list[str]()
    worker = _worker(queue, [OSError("flaky"), OSError("flaky"), None], gave_up)
    while worker.run_once(0):
        pass
    assert queue.done == ["released", "released", "deleted"]
    assert queue.delays == [5.0, 10.0]
    assert gave_up == []


def test_after_max_attempts_the_job_is_buried_and_the_image_failed() -> None:
    queue, gave_up = FakeQueue(), list[str]()
    worker = _worker(queue, [RuntimeError("model crashed")] * 4, gave_up)
    while worker.run_once(0):
        pass
    assert queue.done == ["released", "released", "released", "buried"]
    assert len(gave_up) == 1
    assert "after 4 attempts" in gave_up[0]
    # The owner reads the class of the failure; its message is for the operator only.
    assert gave_up[0] == "gave up after 4 attempts: the analysis failed: RuntimeError"
    assert "model crashed" in queue.errors[-1]


def test_a_failure_s_message_never_reaches_the_owner() -> None:
    queue, gave_up = FakeQueue(), list[str]()
    error = FileNotFoundError(2, "No such file or directory", "/srv/bitimage/models/x.onnx")
    worker = _worker(queue, [error] * 4, gave_up)
    while worker.run_once(0):
        pass
    assert gave_up == ["gave up after 4 attempts: the analysis failed: FileNotFoundError"]
    assert "/srv/bitimage/models/x.onnx" in queue.errors[-1]  # kept for the operator


def test_a_job_failure_s_own_words_are_shown() -> None:
    queue, gave_up = FakeQueue(), list[str]()
    cause = OSError("/srv/data/objects/users/x: broken")
    failure = PermanentJobError("could not decode the image")
    failure.__cause__ = cause
    worker = _worker(queue, [failure], gave_up)
    worker.run_once(0)
    assert gave_up == ["could not decode the image"]
    assert "/srv/data/objects/users/x" in queue.errors[-1]


def test_a_permanent_error_is_buried_at_once() -> None:
    queue, gave_up = FakeQueue(), list[str]()
    worker = _worker(queue, [PermanentJobError("cannot decode")], gave_up)
    worker.run_once(0)
    assert queue.done == ["buried"]
    assert gave_up == ["cannot decode"]


@pytest.mark.parametrize(
    ("attempts", "delay"), [(1, 5.0), (2, 10.0), (3, 20.0), (8, 600.0), (50, 600.0)]
)
def test_retry_delay_grows_to_a_cap(attempts: int, delay: float) -> None:
    assert retry_delay(attempts, 5.0, 600.0) == delay
