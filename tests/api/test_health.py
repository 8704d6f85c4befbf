"""/healthz names the dependency that is down."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from bitimage.bootstrap import Container


def test_health_ok_then_store_down(client: TestClient, container: Container) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "storage": "ok"}
    store = container.local_store
    assert store is not None
    shutil.rmtree(store.root)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    body = answer.json()
    assert body["error"] == "Service unavailable"
    assert "storage" in body["message"]
