"""The fake job queue keeps the db queue's contract: the same assertions run on both."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bitimage.queue.db import DbJobQueue
from bitimage.queue.models import Job
from bitimage.queue.outbox import JOB_SCHEMA_VERSION, enqueue_analysis
from bitimage.queue.ports import JobQueue
from bitimage.users.models import User
from tests.databases import empty_tables
from tests.fakes import FakeJobQueue
from tests.support import add_image_row, make_container, make_settings


@dataclass
class Backend:
    """A queue of some lease length, how an image's job is queued and what became of a job."""

    queue: Callable[[float], JobQueue]
    enqueue: Callable[[], uuid.UUID]
    state_of: Callable[[uuid.UUID], tuple[str, str | None, int] | None]


def _fake() -> Backend:
    fake = FakeJobQueue()

    def queue(ttr: float) -> JobQueue:
        fake.ttr_seconds = ttr
        return fake

    def enqueue() -> uuid.UUID:
        image_id = uuid.uuid4()
        fake.put("analyze", image_id, {"v": JOB_SCHEMA_VERSION, "image_id": str(image_id)})
        return image_id

    def state_of(job_id: uuid.UUID) -> tuple[str, str | None, int] | None:
        job = fake.jobs.get(job_id)
        return None if job is None else (job.state, job.last_error, job.attempts)

    return Backend(queue, enqueue, state_of)


@pytest.fixture(params=["sqlite", "postgresql", "fake"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "fake":
        yield _fake()
        return
    database_url = f"sqlite:///{tmp_path / 'bitimage.db'}"
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
        empty_tables(database_url)
    container = make_container(make_settings(tmp_path / "data", database_url=database_url))
    owner = uuid.uuid4()
    with container.database.transaction() as session:
        session.add(User(id=owner, image_upload_count=0))

    def enqueue() -> uuid.UUID:
        with container.database.transaction() as session:
            image_id = add_image_row(session, owner, "queued")
            enqueue_analysis(session, [image_id])
        return image_id

    def state_of(job_id: uuid.UUID) -> tuple[str, str | None, int] | None:
        with container.database.transaction(write=False) as session:
            job = session.scalars(select(Job).where(Job.id == job_id)).one_or_none()
            return None if job is None else (job.state, job.last_error, job.attempts)

    yield Backend(lambda ttr: DbJobQueue(container.database, ttr_seconds=ttr), enqueue, state_of)
    container.close()


def test_jobs_are_leased_retried_and_buried(backend: Backend) -> None:
    queue = backend.queue(0.0)
    image_id = backend.enqueue()
    job = queue.reserve(timeout_seconds=0)
    assert job is not None
    assert (job.kind, job.image_id, job.attempts) == ("analyze", image_id, 1)
    assert job.payload == {"v": JOB_SCHEMA_VERSION, "image_id": str(image_id)}
    # A lease of 0 s: a worker that died leaves the job to be taken again, its attempt counted.
    again = queue.reserve(timeout_seconds=0)
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 2)
    queue.release(again, delay_seconds=3600, error="transient")
    assert queue.reserve(timeout_seconds=0) is None  # not ready before its delay
    assert backend.state_of(job.id) == ("queued", "transient", 2)
    queue.release(again, delay_seconds=0, error="transient")
    third = queue.reserve(timeout_seconds=0)
    assert third is not None
    queue.bury(third, error="kept failing")
    assert queue.reserve(timeout_seconds=0) is None
    assert backend.state_of(job.id) == ("buried", "kept failing", 3)


def test_a_held_job_is_not_handed_out_twice_and_order_is_kept(backend: Backend) -> None:
    queue = backend.queue(300.0)
    first, second = backend.enqueue(), backend.enqueue()
    taken = [queue.reserve(timeout_seconds=0) for _ in range(3)]
    assert [job.image_id if job else None for job in taken] == [first, second, None]


def test_delete_removes_the_job(backend: Backend) -> None:
    queue = backend.queue(300.0)
    backend.enqueue()
    job = queue.reserve(timeout_seconds=0)
    assert job is not None
    queue.delete(job)
    assert queue.reserve(timeout_seconds=0) is None
    assert backend.state_of(job.id) is None
