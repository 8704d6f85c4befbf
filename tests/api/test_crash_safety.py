"""Failing each step of notify in turn never leaves a row without bytes, nor bytes nothing cleans.

Each failure stands for a crash at that point: after it, either the image is confirmed with
its bytes, or its staging upload is intact and can be notified again; and once the upload URL
has expired, one sweep leaves no object that no row points to.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bitimage.bootstrap import Container
from bitimage.db.base import utcnow
from bitimage.images import uploads
from bitimage.images.models import Image
from tests.support import app_client, auth, make_jpeg, notify_body, stage


class Crash(RuntimeError):
    """Stands for the process dying at this point."""


class CrashingStore:
    """Delegates to the real store, but the n-th call of `method` fails."""

    def __init__(self, real: Any, method: str, nth: int) -> None:
        self._real, self._method, self._left = real, method, nth

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name != self._method:
            return attribute

        def maybe_crash(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            if self._left == 0:
                raise Crash(name)
            return attribute(*args, **kwargs)

        return maybe_crash


def _fail_store(method: str, nth: int) -> Callable[[pytest.MonkeyPatch, Container], None]:
    def install(monkeypatch: pytest.MonkeyPatch, container: Container) -> None:
        monkeypatch.setattr(container.uploads, "store", CrashingStore(container.store, method, nth))

    return install


def _fail_index(monkeypatch: pytest.MonkeyPatch, container: Container) -> None:
    def crash(*_: Any) -> None:
        raise Crash("index")

    monkeypatch.setattr(container.uploads.search, "index", crash)


def _fail_outbox(monkeypatch: pytest.MonkeyPatch, container: Container) -> None:
    def crash(*_: Any) -> None:
        raise Crash("enqueue")

    monkeypatch.setattr(uploads, "enqueue_analysis", crash)


def _fail_commit(monkeypatch: pytest.MonkeyPatch, container: Container) -> None:
    real_commit = Session.commit

    def commit(self: Session) -> None:
        if any(isinstance(obj, Image) for obj in self.new) or self.info.get("on_rollback"):
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))
        real_commit(self)

    monkeypatch.setattr(Session, "commit", commit)


STEPS = {
    "first copy": _fail_store("copy", 1),
    "second copy": _fail_store("copy", 2),
    "search index": _fail_index,
    "job outbox": _fail_outbox,
    "commit": _fail_commit,
    "staging delete after commit": _fail_store("delete", 1),
}


@pytest.fixture
def crash_client(container: Container) -> Iterator[TestClient]:
    with app_client(container, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("step", list(STEPS))
def test_crash_at_each_step(
    step: str, crash_client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = crash_client
    headers = auth(client, "crash@example.com")
    payloads = [make_jpeg(seed=1), make_jpeg(seed=2)]
    ids = stage(client, headers, payloads)
    with monkeypatch.context() as patch:
        STEPS[step](patch, container)
        answer = client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
    assert set(answer.json()) == {"error", "message", "detail"} or answer.status_code == 201
    assert "Traceback" not in answer.text

    with container.database.transaction(write=False) as session:
        rows = {str(i) for i in session.scalars(select(Image.id))}
    store = container.store
    if answer.status_code == 201:
        assert rows == set(ids)
    else:
        assert rows == set()
        # Nothing was lost: the staged uploads are intact and the batch goes through now.
        again = client.post("/api/v1/images", headers=headers, json=notify_body(ids, payloads))
        assert again.status_code == 201, again.text
        rows = set(ids)
    for image_id in rows:
        key = next(info.key for info in store.list("users/") if info.key.endswith(image_id))
        assert store.md5(key) in {info.md5 for info in store.list("users/")}
    assert_clean_after_sweep(container, rows)


def test_crash_then_never_renotified(
    crash_client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy left by a notify that never committed is removed once the URL expires."""
    headers = auth(crash_client, "gone@example.com")
    payloads = [make_jpeg(seed=1), make_jpeg(seed=2)]
    ids = stage(crash_client, headers, payloads)
    with monkeypatch.context() as patch:
        _fail_commit(patch, container)
        answer = crash_client.post(
            "/api/v1/images", headers=headers, json=notify_body(ids, payloads)
        )
    assert answer.status_code == 503
    # the rollback undid the copies; make one exist anyway, as a kill -9 before undo would
    user = next(iter(container.store.list("pinned/"))).key.split("/")[2]  # checked: moved aside
    container.store.copy(f"pinned/users/{user}/{ids[0]}", f"users/{user}/{ids[0]}")
    assert_clean_after_sweep(container, set())


def assert_clean_after_sweep(container: Container, confirmed: set[str]) -> None:
    """After the URLs expire and a sweep runs, exactly the confirmed images have bytes."""
    sweeper = container.sweeper
    later = utcnow() + timedelta(seconds=container.settings.upload_url_ttl_seconds * 2)
    sweeper.clock = lambda: later
    sweeper.sweep()
    left = {info.key.rsplit("/", 1)[1] for info in container.store.list("")}
    assert left == confirmed
    assert all(info.key.startswith("users/") for info in container.store.list(""))
    assert all(uuid.UUID(image_id) for image_id in left)
