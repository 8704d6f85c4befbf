"""The SDK attributes a refused notify batch to the image the error body's `image_id` names."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import cast

import httpx

from bitimage.client.errors import (
    Conflict,
    ConnectionFailed,
    NotFound,
    UnsupportedMedia,
    error_from_response,
)
from bitimage.client.models import ImageSummary, NotifyImage
from bitimage.client.notify import confirm_batch, file_reason
from bitimage.client.ports import NotifyClient
from bitimage.client.results import Status

MESSAGE = "This file is not a supported image (detected format: pdf)"  # names no id


class FakeNotify:
    """Refuses every batch holding `bad` with a 415, with or without the body's image_id."""

    def __init__(self, bad: uuid.UUID, *, sends_image_id: bool) -> None:
        self.bad = bad
        self.sends_image_id = sends_image_id
        self.batches: list[list[uuid.UUID]] = []

    def notify(self, images: Sequence[NotifyImage]) -> list[ImageSummary]:
        """Record the batch; refuse it if it holds the bad image."""
        ids = [image.id for image in images]
        self.batches.append(ids)
        if self.bad in ids:
            raise UnsupportedMedia(MESSAGE, image_id=self.bad if self.sends_image_id else None)
        return []


def _run(fake: FakeNotify, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Status, str | None]]:
    batch = [(i, NotifyImage(id=i, name=f"{i}.jpg", hash="0" * 32)) for i in ids]
    outcome: dict[uuid.UUID, tuple[Status, str | None]] = {}

    def finish(item: uuid.UUID, status: Status, reason: str | None, _: uuid.UUID | None) -> None:
        outcome[item] = (status, reason)

    confirm_batch(cast(NotifyClient, fake), batch, finish)
    return outcome


def test_the_failing_image_is_the_one_the_body_names() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    fake = FakeNotify(ids[1], sends_image_id=True)
    outcome = _run(fake, ids)
    assert outcome[ids[1]] == ("failed", MESSAGE)  # the server's reason, once
    assert outcome[ids[0]] == outcome[ids[2]] == ("uploaded", None)
    # Found from image_id at once: the rest go again together, nothing is narrowed down.
    assert fake.batches == [ids, [ids[0], ids[2]]]


def test_a_server_without_image_id_is_narrowed_down_one_image_at_a_time() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    fake = FakeNotify(ids[1], sends_image_id=False)
    outcome = _run(fake, ids)
    assert outcome[ids[1]][0] == "failed"
    assert outcome[ids[0]] == outcome[ids[2]] == ("uploaded", None)
    assert fake.batches == [ids, [ids[0]], [ids[1]], [ids[2]]]


def test_the_error_carries_the_bodys_image_id() -> None:
    image_id = uuid.uuid4()
    base: dict[str, object] = {
        "error": "Resource hash mismatch",
        "message": "MD5 differs",
        "detail": "d",
    }
    bodies: list[tuple[dict[str, object], uuid.UUID | None]] = [
        ({**base, "image_id": str(image_id)}, image_id),
        ({**base, "image_id": None}, None),
        (base, None),  # a server before image_id
        ({**base, "image_id": "not-a-uuid"}, None),
    ]
    for body, expected in bodies:
        error = error_from_response(httpx.Response(422, content=json.dumps(body).encode()))
        assert error.image_id == expected
        assert error.message == "MD5 differs"


def test_a_files_reason_is_the_servers_message_once_without_ids() -> None:
    image, user = uuid.uuid4(), uuid.uuid4()
    refused = UnsupportedMedia(f"Image {image} is not a supported image: the content is pdf")
    assert file_reason(refused) == "The file is not a supported image: the content is pdf"
    stranger = NotFound(f"Image id {image} was not issued to user {user}", image_id=image)
    assert file_reason(stranger) == "The file was not issued to your account"
    changed = Conflict(f"The upload of image {image} changed while it was being confirmed")
    assert file_reason(changed) == "The upload of the file changed while it was being confirmed"
    assert file_reason(ConnectionFailed("Cannot reach the server")) == "Cannot reach the server"
