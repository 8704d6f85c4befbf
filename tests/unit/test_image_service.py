"""Deleting images through ImageService with fakes: rows, search rows and jobs go, bytes follow."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bitimage.errors import InvalidRequest, NotFound
from bitimage.images.models import Image, StoragePurge
from bitimage.queue.models import Job
from bitimage.storage.keys import derived_keys, permanent_key
from tests.unit.services import Services, jpeg


def _confirmed(services: Services, user: uuid.UUID, count: int) -> list[uuid.UUID]:
    items = services.stage(user, [jpeg(seed) for seed in range(count)])
    return [image.id for image in services.uploads.confirm(user, items)]


def _rows(session: Session, model: type[Image] | type[Job], ids: list[uuid.UUID]) -> int:
    column = model.id if model is Image else Job.image_id
    return session.scalar(select(func.count()).where(column.in_(ids))) or 0


def test_delete_removes_rows_index_and_jobs_then_purges_the_recorded_keys(
    services: Services,
) -> None:
    user = services.new_user()
    gone, kept = _confirmed(services, user, 2)
    services.uow(lambda s: services.images.delete_images(s, user, [gone, gone]))
    assert services.uow(lambda s: _rows(s, Image, [gone])) == 0
    assert services.uow(lambda s: _rows(s, Job, [gone])) == 0  # its analysis job is dropped
    assert services.uow(lambda s: _rows(s, Image, [kept])) == 1
    assert ("remove", [gone]) in services.search.calls
    assert gone not in services.search.entries
    assert services.count(user) == 1
    # The original and everything made from it: renditions and the stripped copy.
    original = permanent_key(user, gone)
    assert services.purged == [(key, False) for key in (original, *derived_keys(original))]
    assert permanent_key(user, gone) not in services.store.objects
    assert permanent_key(user, kept) in services.store.objects
    # The purge row is done with once the store deleted the object.
    assert services.uow(lambda s: s.scalar(select(func.count()).select_from(StoragePurge))) == 0


def test_delete_is_all_or_nothing_and_purges_nothing_when_an_id_is_not_the_owners(
    services: Services,
) -> None:
    user, other = services.new_user(), services.new_user()
    (mine,) = _confirmed(services, user, 1)
    (theirs,) = _confirmed(services, other, 1)
    with pytest.raises(NotFound) as caught:
        services.uow(lambda s: services.images.delete_images(s, user, [mine, theirs]))
    assert caught.value.image_id == theirs
    assert services.uow.rollbacks == 1
    assert services.purged == []
    assert services.uow(lambda s: _rows(s, Image, [mine, theirs])) == 2
    assert services.count(user) == 1
    assert mine in services.search.entries
    assert permanent_key(user, mine) in services.store.objects


@pytest.mark.parametrize("ids", [[], [uuid.uuid4() for _ in range(1001)]])
def test_delete_refuses_no_ids_and_too_many(services: Services, ids: list[uuid.UUID]) -> None:
    with pytest.raises(InvalidRequest):
        services.uow(lambda s: services.images.delete_images(s, uuid.uuid4(), ids))
