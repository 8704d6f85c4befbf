"""The notify rules, driven through UploadService with fakes: quota, claims, order of checks."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from bitimage.errors import (
    AccessDenied,
    AppError,
    Conflict,
    HashMismatch,
    NotFound,
    TooLarge,
    UnsupportedMedia,
)
from bitimage.images.schemas import NotifyImage
from bitimage.images.uploads import PendingBatch
from bitimage.storage.keys import permanent_key, staging_key
from bitimage.users.models import User
from tests.unit.services import Services, item, jpeg


def _batch(services: Services, user_id: uuid.UUID, items: list[NotifyImage]) -> PendingBatch:
    """A batch as confirm() hands it to the group committer: claimed, then checked."""
    ids = [i.id for i in items]
    claim = services.uow(lambda s: services.uploads.grants.claim(s, user_id, ids))
    batch = PendingBatch(user_id, items, {}, claim=claim)
    batch.staged = {i.id: services.uploads.verify_staged(user_id, i, batch.pinned) for i in items}
    return batch


def test_a_confirmed_batch_stores_rows_bytes_index_and_job(services: Services) -> None:
    user = services.new_user()
    items = services.stage(user, [jpeg(1), jpeg(2)])
    images = services.uploads.confirm(user, items)
    assert [image.id for image in images] == [i.id for i in items]
    assert services.count(user) == 2
    assert all(permanent_key(user, i.id) in services.store.objects for i in items)
    assert not any(staging_key(user, i.id) in services.store.objects for i in items)
    assert set(services.search.entries) == {i.id for i in items}
    services.relay()
    assert sorted(job.image_id for job in services.queue.jobs.values()) == sorted(  # type: ignore[type-var]
        i.id for i in items
    )


def _set_limit(session: Session, user_id: uuid.UUID, limit: int) -> None:
    user = session.get(User, user_id)
    assert user is not None
    user.image_upload_limit = limit


def test_the_second_batch_of_a_user_in_one_group_meets_the_quota_the_first_used(
    services: Services,
) -> None:
    user = services.new_user(limit=2)
    first = _batch(services, user, services.stage(user, [jpeg(1)]))
    second = _batch(services, user, services.stage(user, [jpeg(2)]))
    # Each batch alone fits a limit of 1 (the user has no image yet); together they do not.
    services.uow(lambda s: _set_limit(s, user, 1))
    services.uploads.confirm_group([first, second])
    assert first.error is None and first.images is not None
    assert isinstance(second.error, AccessDenied) and second.images is None
    assert services.count(user) == 1
    assert permanent_key(user, second.items[0].id) not in services.store.objects
