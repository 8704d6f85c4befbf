"""notify -> outbox -> relay -> beanstalkd -> worker, through the real app on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bitimage.bootstrap import Container
from bitimage.images.models import ImageContentLabel
from bitimage.queue.beanstalk import BeanstalkJobQueue
from bitimage.queue.models import Job
from bitimage.queue.worker import Worker
from tests.beanstalkd import Beanstalkd
from tests.integration.test_analysis_worker import Broken, solid_jpeg
from tests.support import app_client, auth, make_container, make_settings, upload


@pytest.fixture
def beanstalkd() -> Iterator[Beanstalkd]:
    with Beanstalkd() as server:
        yield server


@pytest.fixture
def bs_container(tmp_path: Path, database_url: str, beanstalkd: Beanstalkd) -> Iterator[Container]:
    settings = make_settings(
        tmp_path / "data", database_url=database_url, queue_url=beanstalkd.url, job_ttr_seconds=1
    )
    built = make_container(settings)
    yield built
    built.close()


@pytest.fixture
def bs_client(bs_container: Container) -> Iterator[TestClient]:
    with app_client(bs_container) as client:
        yield client


def _worker(container: Container, queue: BeanstalkJobQueue | None = None) -> Worker:
    return Worker(
        queue or container.queue,
        container.jobs.handle,
        container.jobs.give_up,
        max_attempts=2,
        base_delay=0.0,
    )


def _outbox(container: Container) -> int:
    with container.database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def _labels(container: Container, image_id: str) -> int:
    with container.database.transaction(write=False) as session:
        query = select(func.count()).select_from(ImageContentLabel)
        return session.scalar(query.where(ImageContentLabel.image_id == uuid.UUID(image_id))) or 0


def _status(client: TestClient, headers: dict[str, str], image_id: str) -> str:
    answer = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers)
    return str(answer.json()["analysis_status"])


def test_beanstalkd_down_at_notify_loses_no_job(
    bs_client: TestClient, bs_container: Container, beanstalkd: Beanstalkd
) -> None:
    headers = auth(bs_client, "outage@example.com")
    beanstalkd.stop()
    image_id = upload(bs_client, headers, [solid_jpeg((30, 160, 40))])[0]["id"]  # still 201
    assert _outbox(bs_container) == 1  # the job waits in the outbox
    beanstalkd.start()
    relay = bs_container.relay
    assert relay is not None
    relay.relay_once()  # what the relay thread does at its next pass
    assert _outbox(bs_container) == 0
    worker = _worker(bs_container)
    assert worker.run_once(5) is True
    assert _status(bs_client, headers, image_id) == "done"
    assert worker.run_once(0) is False  # delivered once


def test_a_killed_worker_s_job_is_done_again_once(
    bs_client: TestClient, bs_container: Container, beanstalkd: Beanstalkd
) -> None:
    headers = auth(bs_client, "killed@example.com")
    image_id = upload(bs_client, headers, [solid_jpeg((20, 40, 200))])[0]["id"]
    assert bs_container.relay is not None
    bs_container.relay.relay_once()
    doomed = BeanstalkJobQueue(beanstalkd.host, beanstalkd.port, ttr_seconds=1)
    job = doomed.reserve(5)
    assert job is not None
    bs_container.jobs.handle(job)  # analysed, but the worker dies before deleting the job
    doomed.close()  # its connection drops: beanstalkd makes the job ready again
    rows = _labels(bs_container, image_id)
    assert rows >= 1
    worker = _worker(bs_container)
    assert worker.run_once(5) is True
    assert _labels(bs_container, image_id) == rows
    assert worker.run_once(0) is False
    assert bs_container.queue.stats().buried == 0  # type: ignore[attr-defined]


def test_a_failing_job_is_buried_and_the_image_marked_failed(
    bs_client: TestClient, bs_container: Container
) -> None:
    headers = auth(bs_client, "bury@example.com")
    image_id = upload(bs_client, headers, [solid_jpeg((200, 30, 30))])[0]["id"]
    assert bs_container.relay is not None
    bs_container.relay.relay_once()
    bs_container.analysis.analysers = [Broken()]
    worker = _worker(bs_container)
    assert worker.run_once(5) is True  # attempt 1: released at once (base delay 0)
    assert worker.run_once(5) is True  # attempt 2: buried
    assert worker.run_once(0) is False
    assert _status(bs_client, headers, image_id) == "failed"
    assert bs_container.queue.stats().buried == 1  # type: ignore[attr-defined]
