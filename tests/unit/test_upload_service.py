"""The notify rules, driven through UploadService with fakes: quota, claims, order of checks."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bitimage.config import Settings
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
from tests.unit.services import Services, jpeg


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
    assert first.error is None
    assert first.images is not None
    assert isinstance(second.error, AccessDenied)
    assert second.images is None
    assert services.count(user) == 1
    assert permanent_key(user, second.items[0].id) not in services.store.objects


def test_a_second_claim_of_an_id_is_409_at_once_and_leaves_the_first_claim_standing(
    services: Services,
) -> None:
    user = services.new_user()
    items = services.stage(user, [jpeg(1), jpeg(2), jpeg(3)])
    first = _batch(services, user, items[:2])  # a notify of these ids is on its way
    claim = services.uploads.grants.claim
    with pytest.raises(Conflict, match="being confirmed by another request") as caught:
        services.uow(lambda s: claim(s, user, [items[2].id, items[1].id]))
    assert caught.value.image_id == items[1].id
    # Refused by the claim, before the store is read: not by a later check of the batch.
    services.store.unavailable = True
    with pytest.raises(Conflict, match="being confirmed by another request"):
        services.uploads.confirm(user, [items[1]])
    services.store.unavailable = False
    services.uploads.confirm(user, [items[2]])  # the refused claim took none of its ids
    services.uploads.confirm_group([first])  # the first notify still owns its claim
    assert first.error is None
    assert services.count(user) == 3


def test_a_batch_whose_claim_was_taken_over_is_409(services: Services) -> None:
    user = services.new_user()
    items = services.stage(user, [jpeg(1)])
    stale = _batch(services, user, items)
    # Its claim lapsed and another notify took the ids over with a claim of its own.
    assert stale.claim is not None
    stale.claim -= timedelta(seconds=1)
    services.uploads.confirm_group([stale])
    assert isinstance(stale.error, Conflict)
    assert services.count(user) == 0


# API.md's order: the first check an item fails names the error, whatever else it fails.
ORDER = ["not issued", "confirmed", "nothing uploaded", "413", "415", "422", "403"]
EXPECTED: dict[str, tuple[type[AppError], str]] = {
    "not issued": (NotFound, "was not issued"),
    "confirmed": (Conflict, "already confirmed"),
    "nothing uploaded": (NotFound, "Nothing was uploaded"),
    "413": (TooLarge, "over the upload limit"),
    "415": (UnsupportedMedia, "not a supported image"),
    "422": (HashMismatch, "The MD5 of image"),
    "403": (AccessDenied, "Image limit reached"),
}
TOO_LARGE = 4000  # max_image_bytes in these tests: a small JPEG fits, BIG does not
BIG = b"%PDF-1.4 " + b"x" * TOO_LARGE  # too large, not an image


def _failing_from(services: Services, user: uuid.UUID, first: str) -> NotifyImage:
    """An item failing `first` and every later check it can fail at the same time."""
    data = {"413": BIG, "415": b"<svg/>"}.get(first, jpeg(7))
    if first == "not issued":  # never issued, yet bytes wait at its staging key
        image_id = uuid.uuid4()
        services.store.put(staging_key(user, image_id), BIG)
        return NotifyImage(id=image_id, name="x.jpg", hash="0" * 32)
    if first == "confirmed":  # confirmed, then other bytes put at its staging key again
        (confirmed,) = services.stage(user, [jpeg(8)])
        services.uploads.confirm(user, [confirmed])
        services.store.put(staging_key(user, confirmed.id), BIG)
        return NotifyImage(id=confirmed.id, name="x.jpg", hash="0" * 32)
    (staged,) = services.stage(user, [data])
    if first == "nothing uploaded":
        services.store.delete([staging_key(user, staged.id)])
    wrong_hash = "0" * 32 if first != "403" else staged.hash
    return NotifyImage(id=staged.id, name="x.jpg", hash=wrong_hash)


@pytest.mark.parametrize("first", ORDER)
def test_the_first_check_an_item_fails_in_api_order_wins(
    base_settings: Settings, engine: Engine, first: str
) -> None:
    services = Services(base_settings.model_copy(update={"max_image_bytes": TOO_LARGE}), engine)
    user = services.new_user()
    failing = _failing_from(services, user, first)
    count = services.count(user)
    services.uow(lambda s: _set_limit(s, user, 0))  # and every item is over the quota
    error, message = EXPECTED[first]
    with pytest.raises(error, match=message) as caught:
        services.uploads.confirm(user, [failing])
    assert type(caught.value) is error
    assert caught.value.image_id == (None if first == "403" else failing.id)
    assert services.count(user) == count
    if first != "confirmed":
        assert permanent_key(user, failing.id) not in services.store.objects
