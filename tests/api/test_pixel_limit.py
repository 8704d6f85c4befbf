"""A bomb header is a 415 at notify, also after the worker has decoded images in this process."""

from __future__ import annotations

from fastapi.testclient import TestClient
from PIL import Image

from bitimage.bootstrap import Container
from bitimage.queue.db import DbJobQueue
from bitimage.queue.worker import Worker
from tests.bombs import bomb_png
from tests.support import auth, make_jpeg, notify_body, stage, upload


def test_a_bomb_header_after_an_analysis_is_refused_with_415(
    client: TestClient, container: Container
) -> None:
    headers = auth(client, "bomb-after-decode@example.com")
    container.analysis.analysers = []  # the decode alone is what once changed Pillow's state
    image_id = upload(client, headers, [make_jpeg(80, 60)])[0]["id"]
    worker = Worker(DbJobQueue(container.database), container.jobs.handle, lambda *_: None, 1)
    assert worker.run_once(0) is True
    shown = client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).json()
    assert shown["analysis_status"] == "done"
    pillow_limit = Image.MAX_IMAGE_PIXELS

    # 144 megapixels: over twice the 50 MP limit the decoder once wrote into Pillow's global.
    bomb = bomb_png(12_000, 12_000)
    ids = stage(client, headers, [bomb])
    answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, [bomb]))
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"] == "Resource media type is unsupported"
    assert "megapixel" in answer.json()["message"]
    assert Image.MAX_IMAGE_PIXELS is pillow_limit
