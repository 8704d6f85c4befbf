"""A request that loses to contention answers 503 "busy" with Retry-After, not an outage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from tests.support import auth, make_jpeg, upload


class DeadlockDetected(Exception):
    """What psycopg raises when PostgreSQL picks this transaction as a deadlock's victim."""

    sqlstate = "40P01"


def test_a_deadlocked_request_is_busy_not_unavailable(
    client: TestClient,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = auth(client, "contention@example.com")
    image_id = upload(client, headers, [make_jpeg()])[0]["id"]

    def deadlocked(session: Session, owner: uuid.UUID, image_ids: Sequence[uuid.UUID]) -> None:
        session.execute(text("SELECT 1"))
        raise OperationalError("DELETE FROM image_search ...", {}, DeadlockDetected("deadlock"))

    monkeypatch.setattr(container.images, "delete_images", deadlocked)
    answer = client.delete(f"/api/v1/images?id={image_id}", headers=headers)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["error"] == "Service unavailable"
    assert "busy" in answer.json()["message"]
    assert "unavailable" not in caplog.text
    assert "contention" in caplog.text
    monkeypatch.undo()
    # Nothing was changed: the image is still there, and goes on the next try.
    assert client.get(f"/api/v1/images/{image_id}/expanded", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/images?id={image_id}", headers=headers).status_code == 204
