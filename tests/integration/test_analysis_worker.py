"""The worker on the db:// queue: analyses, stores labels once, retries, buries and fails."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from bitimage.analysis.ports import AnalysisResult, DecodedImage
from bitimage.bootstrap import Container
from bitimage.images.models import Image as ImageRow
from bitimage.images.models import ImageContentLabel
from bitimage.queue.db import DbJobQueue
from bitimage.queue.outbox import enqueue_analysis
from bitimage.queue.worker import Worker
from tests.support import auth, upload


def solid_jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), colour).save(out, "JPEG")
    return out.getvalue()


def _worker(container: Container, queue: DbJobQueue | None = None) -> Worker:
    return Worker(
        queue or DbJobQueue(container.database),
        container.jobs.handle,
        container.jobs.give_up,
        max_attempts=2,
        base_delay=0.0,
    )


def _label_rows(container: Container, image_id: str) -> int:
    with container.database.transaction(write=False) as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(ImageContentLabel)
                .where(ImageContentLabel.image_id == uuid.UUID(image_id))
            )
            or 0
        )


def test_an_image_is_labelled_and_found_by_label(client: TestClient, container: Container) -> None:
    headers = auth(client, "worker@example.com")
    image_id = upload(client, headers, [solid_jpeg((30, 160, 40))])[0]["id"]
    assert client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()[
        "analysis_status"
    ] == ("pending")
    worker = _worker(container)
    assert worker.run_once(0) is True
    assert worker.run_once(0) is False
    shown = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert shown["analysis_status"] == "done"
    assert [label["name"] for label in shown["labels"]] == ["green"]
    found = client.get(
        "/api/v1/images/private/summary?content_label=green", headers=headers
    ).json()["images"]
    assert [image["id"] for image in found] == [image_id]
    assert (
        client.get("/api/v1/images/private/summary?content_label=blue", headers=headers).json()[
            "images"
        ]
        == []
    )

    # Analysed again (a re-run, a duplicate delivery): the labels are replaced, not doubled.
    rows = _label_rows(container, image_id)
    with container.database.transaction() as session:
        enqueue_analysis(session, [uuid.UUID(image_id)])
    assert worker.run_once(0) is True
    assert _label_rows(container, image_id) == rows


def test_a_killed_worker_s_job_is_done_again_once(client: TestClient, container: Container) -> None:
    headers = auth(client, "killed@example.com")
    image_id = upload(client, headers, [solid_jpeg((20, 40, 200))])[0]["id"]
    leases = DbJobQueue(container.database, ttr_seconds=0.0)
    # A worker takes the job, analyses, and dies before deleting it.
    job = leases.reserve(0)
    assert job is not None
    container.jobs.handle(job)
    rows = _label_rows(container, image_id)
    assert rows >= 1
    # Its lease ran out: another worker takes the job again, once, and finishes it.
    again = _worker(container, leases)
    assert again.run_once(0) is True
    assert _label_rows(container, image_id) == rows
    assert DbJobQueue(container.database).reserve(0) is None


class Broken:
    name = "broken"
    model = "broken@1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        raise RuntimeError("the model crashed")


def test_a_job_that_keeps_failing_is_buried_and_the_image_marked_failed(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "failing@example.com")
    image_id = upload(client, headers, [solid_jpeg((200, 30, 30))])[0]["id"]
    container.analysis.analysers = [Broken()]
    worker = _worker(container)
    assert worker.run_once(0) is True  # attempt 1: released
    assert worker.run_once(0) is True  # attempt 2: buried
    assert worker.run_once(0) is False
    shown = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert shown["analysis_status"] == "failed"
    assert shown["labels"] == []


class MissingModel:
    name = "classifier"
    model = "missing@1"

    def analyse(self, image: DecodedImage) -> AnalysisResult:
        raise FileNotFoundError(2, "No such file or directory", "/srv/bitimage/models/model.onnx")


def test_the_owner_reads_a_short_reason_and_the_log_has_the_rest(
    client: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    headers = auth(client, "no-paths@example.com")
    image_id = upload(client, headers, [solid_jpeg((90, 30, 30))])[0]["id"]
    container.analysis.analysers = [MissingModel()]
    worker = _worker(container)
    with caplog.at_level(logging.WARNING, logger="bitimage.worker"):
        while worker.run_once(0):
            pass
    shown = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert shown["analysis_status"] == "failed"
    reason = shown["analysis_error"]
    assert reason == "gave up after 2 attempts: the classifier analyser failed: FileNotFoundError"
    assert "/" not in reason
    assert "Traceback" not in reason
    assert "/srv/bitimage/models/model.onnx" in caplog.text  # the operator still sees it all


def test_an_image_that_cannot_be_decoded_says_so_without_paths(
    client: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    headers = auth(client, "undecodable@example.com")
    image_id = upload(client, headers, [solid_jpeg((30, 90, 30))])[0]["id"]
    with container.database.transaction(write=False) as session:
        key = session.get(ImageRow, uuid.UUID(image_id)).storage_key  # type: ignore[union-attr]
    assert container.local_store is not None
    # The stored bytes went bad after the check (a disk fault): not an image any more.
    container.local_store.path_for(key).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with caplog.at_level(logging.ERROR, logger="bitimage.worker"):
        assert _worker(container).run_once(0) is True
    shown = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert shown["analysis_status"] == "failed"
    assert shown["analysis_error"] == "could not decode the image"
    assert "could not decode the image" in caplog.text
    assert "Traceback" in caplog.text  # with the cause, in the server's log only
