"""The outbox relay on real SQLite and a real beanstalkd: moved once, kept while it is down."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bitimage.db.base import utcnow
from bitimage.db.migrate import upgrade
from bitimage.db.session import Database, after_commit, create_db_engine
from bitimage.queue.beanstalk import BeanstalkJobQueue
from bitimage.queue.models import Job
from bitimage.queue.outbox import enqueue_analysis
from bitimage.queue.relay import OutboxRelay
from bitimage.users.models import User
from tests.beanstalkd import Beanstalkd
from tests.support import add_image_row


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Beanstalkd]:
    # With a binlog, jobs put before a stop are still there after the restart.
    with Beanstalkd(binlog_dir=tmp_path / "binlog") as running:
        yield running


@pytest.fixture
def open_database(tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """Databases on one migrated SQLite file: each stands for one API process."""
    url = f"sqlite:///{tmp_path / 'bitimage.db'}"
    opened: list[Database] = []

    def open_one() -> Database:
        opened.append(Database(create_db_engine(url)))
        if len(opened) == 1:
            upgrade(opened[0].engine)
        return opened[-1]

    yield open_one
    for database in opened:
        database.engine.dispose()


@pytest.fixture
def database(open_database: Callable[[], Database]) -> Database:
    return open_database()


@pytest.fixture
def open_queue(server: Beanstalkd) -> Iterator[Callable[[], BeanstalkJobQueue]]:
    opened: list[BeanstalkJobQueue] = []

    def open_one() -> BeanstalkJobQueue:
        opened.append(BeanstalkJobQueue(server.host, server.port, connect_timeout=2))
        return opened[-1]

    yield open_one
    for queue in opened:
        queue.close()


@pytest.fixture
def queue(open_queue: Callable[[], BeanstalkJobQueue]) -> BeanstalkJobQueue:
    return open_queue()


def add_images(database: Database, count: int, wake: Callable[[], None] | None = None) -> None:
    """Images and their analysis jobs in one transaction, as a confirmation writes them."""
    with database.transaction() as session:
        user = User(id=uuid.uuid4())
        session.add(user)
        session.flush()
        ids = [add_image_row(session, user.id, "cat.jpg", is_private=False) for _ in range(count)]
        enqueue_analysis(session, ids)
        if wake is not None:
            after_commit(session, wake)


def outbox(database: Database) -> dict[uuid.UUID, uuid.UUID | None]:
    """Job id -> image id of the rows still waiting."""
    with database.transaction(write=False) as session:
        return {job.id: job.image_id for job in session.scalars(select(Job))}


def drain(queue: BeanstalkJobQueue) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """Reserve and delete every ready job; their (job id, image id)."""
    taken = []
    while (job := queue.reserve(timeout_seconds=0)) is not None:
        assert (job.kind, job.attempts, job.payload["v"]) == ("analyze", 1, 1)
        taken.append((job.id, job.image_id))
        queue.delete(job)
    return taken


def test_relay_moves_rows_to_the_tube(database: Database, queue: BeanstalkJobQueue) -> None:
    add_images(database, 5)
    rows = outbox(database)
    relay = OutboxRelay(database, queue, batch=2)
    assert relay.relay_once() == 5
    assert outbox(database) == {}
    assert relay.relay_once() == 0
    assert sorted(drain(queue)) == sorted(rows.items())


def test_nothing_is_lost_while_beanstalkd_is_down(
    database: Database, queue: BeanstalkJobQueue, server: Beanstalkd
) -> None:
    add_images(database, 4)
    rows = outbox(database)
    relay = OutboxRelay(database, queue)
    server.stop()
    assert relay.relay_once() == 0
    assert relay.relay_once() == 0
    assert outbox(database) == rows

    server.start()
    assert relay.relay_once() == 4
    assert outbox(database) == {}
    assert sorted(drain(queue)) == sorted(rows.items())


def test_a_failed_put_leaves_the_rest_for_later(
    database: Database, queue: BeanstalkJobQueue, server: Beanstalkd
) -> None:
    add_images(database, 5)
    rows = outbox(database)

    class DiesAfterTwo:
        """beanstalkd goes down in the middle of a batch."""

        def __init__(self) -> None:
            self.puts = 0

        def ping(self) -> None:
            queue.ping()

        def put(self, body: dict[str, Any]) -> None:
            if self.puts == 2:
                server.stop()
            queue.put(body)
            self.puts += 1

    assert OutboxRelay(database, DiesAfterTwo()).relay_once() == 2
    assert len(outbox(database)) == 3
    server.start()
    assert OutboxRelay(database, queue).relay_once() == 3
    assert sorted(drain(queue)) == sorted(rows.items())


def test_rows_not_yet_due_wait(database: Database, queue: BeanstalkJobQueue) -> None:
    add_images(database, 2)
    later = next(iter(outbox(database)))
    with database.transaction() as session:
        session.execute(
            update(Job).where(Job.id == later).values(available_at=utcnow() + timedelta(hours=1))
        )
    assert OutboxRelay(database, queue).relay_once() == 1
    assert list(outbox(database)) == [later]


def test_several_processes_relay_each_job_once(
    open_database: Callable[[], Database], open_queue: Callable[[], BeanstalkJobQueue]
) -> None:
    first = open_database()
    add_images(first, 60)
    rows = outbox(first)
    relays = [OutboxRelay(open_database(), open_queue(), batch=7) for _ in range(3)]
    moved: list[int] = []
    start = threading.Barrier(len(relays))

    def run(relay: OutboxRelay) -> None:
        start.wait()
        moved.append(relay.relay_once())

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(moved) == 60
    taken = drain(open_queue())
    assert len(taken) == 60
    assert sorted(taken) == sorted(rows.items())


def test_the_background_relay_runs_when_woken(database: Database, queue: BeanstalkJobQueue) -> None:
    def tube_holds(count: int) -> None:
        deadline = time.monotonic() + 5
        while queue.stats().ready < count:
            assert time.monotonic() < deadline, "the relay did not run"
            time.sleep(0.02)

    add_images(database, 2)
    relay = OutboxRelay(database, queue)
    relay.start(interval_seconds=3600)
    try:
        tube_holds(2)  # its first pass, at start
        # The next timed pass is an hour away: only wake() after the commit can move these.
        add_images(database, 3, wake=relay.wake)
        tube_holds(5)
        assert outbox(database) == {}
    finally:
        relay.stop()
    assert len(drain(queue)) == 5
