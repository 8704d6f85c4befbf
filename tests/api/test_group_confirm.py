"""Notify batches confirmed together (group commit) keep each batch all or nothing.

The group committer puts the batches of concurrent requests in one transaction; these tests
hand it a group directly, so what shares a transaction is certain, not a matter of timing.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bitimage.bootstrap import Container
from bitimage.errors import AccessDenied, Conflict, HashMismatch
from bitimage.images.models import Image
from bitimage.images.schemas import NotifyImage
from bitimage.images.uploads import PendingBatch
from bitimage.storage.keys import permanent_key, pinned_key
from bitimage.users.models import User
from tests.support import auth, make_jpeg, notify_body, stage, user_id


def _batch(container: Container, owner: uuid.UUID, body: dict[str, Any]) -> PendingBatch:
    items = [NotifyImage.model_validate(image) for image in body["images"]]
    staged = {item.id: container.uploads.verify_staged(owner, item) for item in items}
    return PendingBatch(owner, items, staged)


def _owner(client: TestClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID(user_id(client, headers))


def _count(container: Container, owner: uuid.UUID) -> tuple[int, int]:
    with container.database.transaction(write=False) as session:
        rows = session.scalar(select(func.count()).where(Image.user_id == owner))
        user = session.get(User, owner)
        assert user is not None
        return int(rows or 0), user.image_upload_count


def test_one_group_keeps_the_good_batches_and_answers_each_bad_one(
    client: TestClient, container: Container
) -> None:
    alice, bob = auth(client, "alice@example.com"), auth(client, "bob@example.com")
    alice_id, bob_id = _owner(client, alice), _owner(client, bob)
    pictures = [make_jpeg(seed=n) for n in range(4)]
    alice_ids = stage(client, alice, pictures)
    with container.database.transaction() as session:  # lowered after the URLs were issued
        user = session.get(User, alice_id)
        assert user is not None
        user.image_upload_limit = 3
    theirs = [make_jpeg(seed=10 + n) for n in range(2)]
    bob_ids = stage(client, bob, theirs)
    wrong = notify_body(bob_ids[1:], theirs[1:])
    wrong["images"][0]["hash"] = "0" * 32

    fits = _batch(container, alice_id, notify_body(alice_ids[:2], pictures[:2]))
    over_quota = _batch(container, alice_id, notify_body(alice_ids[2:], pictures[2:]))
    bad_hash = _batch(container, bob_id, wrong)
    good = _batch(container, bob_id, notify_body(bob_ids[:1], theirs[:1]))
    container.uploads.confirm_group([fits, over_quota, bad_hash, good])

    assert fits.error is None
    assert fits.images is not None
    assert len(fits.images) == 2
    assert isinstance(over_quota.error, AccessDenied)
    assert over_quota.images is None
    assert isinstance(bad_hash.error, HashMismatch)
    assert good.error is None
    assert good.images is not None
    assert _count(container, alice_id) == (2, 2)
    assert _count(container, bob_id) == (1, 1)
    store = container.store
    for image_id in alice_ids[2:]:  # refused: the checked (pinned) upload stays, nothing permanent
        assert store.stat(pinned_key(alice_id, uuid.UUID(image_id))) is not None
        assert store.stat(permanent_key(alice_id, uuid.UUID(image_id))) is None
    found = client.get("/api/v1/images/private/summary?name=img1", headers=alice).json()
    ids = [image["id"] for image in found["images"]]
    assert ids[0] == alice_ids[1]  # indexed in the group's one statement, found best first
    assert set(ids) <= set(alice_ids[:2])

    again = _batch(container, bob_id, notify_body(bob_ids[:1], theirs[:1]))
    container.uploads.confirm_group([again])
    assert isinstance(again.error, Conflict)


def test_a_retry_in_the_same_group_is_a_conflict(client: TestClient, container: Container) -> None:
    headers = auth(client, "carol@example.com")
    owner = _owner(client, headers)
    pictures = [make_jpeg(seed=n) for n in range(2)]
    body = notify_body(stage(client, headers, pictures), pictures)
    first, retry = _batch(container, owner, body), _batch(container, owner, body)
    container.uploads.confirm_group([first, retry])
    assert first.error is None
    assert isinstance(retry.error, Conflict)
    assert _count(container, owner) == (2, 2)


def test_concurrent_notifies_each_confirm_once(client: TestClient, container: Container) -> None:
    owners = [auth(client, f"user{n}@example.com") for n in range(4)]
    staged = []
    for n, headers in enumerate(owners):
        for round_ in range(3):
            payloads = [make_jpeg(seed=100 * n + 10 * round_ + k) for k in range(5)]
            staged.append((headers, notify_body(stage(client, headers, payloads), payloads)))
    answers: list[int] = []
    lock = threading.Lock()

    def notify(headers: dict[str, str], body: dict[str, Any]) -> None:
        status = client.post("/api/v1/images", headers=headers, json=body).status_code
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=notify, args=job) for job in staged]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [201] * len(staged)
    for headers in owners:
        assert _count(container, _owner(client, headers)) == (15, 15)
