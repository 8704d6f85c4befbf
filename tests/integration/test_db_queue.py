"""The db:// queue on real SQLite: reserve with a lease, delete, release with delay, bury."""

from __future__ import annotations

from sqlalchemy import select

from bitimage.bootstrap import Container
from bitimage.queue.db import DbJobQueue
from bitimage.queue.models import Job
from bitimage.queue.outbox import enqueue_analysis
from tests.support import auth, make_jpeg, upload


def test_jobs_are_leased_retried_and_buried(client: object, container: Container) -> None:
    headers = auth(client, "queue@example.com")
    image_id = upload(client, headers, [make_jpeg()])[0]["id"]
    queue = DbJobQueue(container.database, ttr_seconds=0.0)

    job = queue.reserve(timeout_seconds=0)
    assert job is not None
    assert str(job.image_id) == image_id
    assert job.payload == {"v": 1, "image_id": image_id}
    # ttr 0: a worker that died leaves the job to be taken again, with its attempt counted
    again = queue.reserve(timeout_seconds=0)
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 2)

    queue.release(again, delay_seconds=3600, error="transient")
    assert queue.reserve(timeout_seconds=0) is None  # not ready before its delay
    queue.release(again, delay_seconds=0, error="transient")
    third = queue.reserve(timeout_seconds=0)
    assert third is not None
    queue.bury(third, error="kept failing")
    assert queue.reserve(timeout_seconds=0) is None
    with container.database.transaction(write=False) as session:
        buried = session.scalars(select(Job)).one()
    assert (buried.state, buried.last_error, buried.attempts) == ("buried", "kept failing", 3)


def test_delete_removes_the_job(container: Container, client: object) -> None:
    headers = auth(client, "queue2@example.com")
    upload(client, headers, [make_jpeg()])
    queue = DbJobQueue(container.database)
    job = queue.reserve(timeout_seconds=0)
    assert job is not None
    queue.delete(job)
    assert queue.reserve(timeout_seconds=0) is None
    with container.database.transaction() as session:
        enqueue_analysis(session, [])
        assert session.scalars(select(Job)).all() == []
