"""Account deletion through UserService with fakes: its hooks run, then images and bytes go."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bitimage.errors import AccessDenied
from bitimage.images.models import Image, UploadGrant
from bitimage.storage.keys import permanent_key, staging_key, user_prefixes
from bitimage.users.models import User
from tests.unit.services import Services, jpeg


def _of_user(session: Session, model: type[Image] | type[UploadGrant], user: uuid.UUID) -> int:
    return session.scalar(select(func.count()).where(model.user_id == user)) or 0


def test_deleting_an_account_runs_its_hooks_then_rows_and_bytes_go(services: Services) -> None:
    user, other = services.new_user(), services.new_user()
    mine = [i.id for i in services.uploads.confirm(user, services.stage(user, [jpeg(1), jpeg(2)]))]
    (waiting,) = services.stage(user, [jpeg(3)])  # issued and uploaded, never confirmed
    (theirs,) = services.uploads.confirm(other, services.stage(other, [jpeg(4)]))
    seen: list[tuple[uuid.UUID, bool]] = []

    def hook(session: Session, user_id: uuid.UUID) -> None:
        seen.append((user_id, session.get(User, user_id) is not None))

    services.users.on_account_deleted.append(hook)
    services.uow(lambda s: services.users.delete(s, user, user))
    assert seen == [(user, True)]  # run in the deleting transaction, before the account row
    assert services.uow(lambda s: s.get(User, user)) is None
    assert services.uow(lambda s: _of_user(s, Image, user)) == 0
    assert services.uow(lambda s: _of_user(s, UploadGrant, user)) == 0
    assert not set(mine) & set(services.search.entries)
    assert sorted(services.purged) == sorted((p, True) for p in user_prefixes(user))
    assert not [key for key in services.store.objects if f"users/{user}/" in key]
    assert staging_key(user, waiting.id) not in services.store.objects
    # Another account is untouched.
    assert permanent_key(other, theirs.id) in services.store.objects
    assert services.uow(lambda s: _of_user(s, Image, other)) == 1


def test_an_account_is_deleted_by_its_owner_only_and_no_hook_runs_otherwise(
    services: Services,
) -> None:
    user, caller = services.new_user(), services.new_user()
    (image,) = services.uploads.confirm(user, services.stage(user, [jpeg(1)]))
    ran: list[uuid.UUID] = []
    services.users.on_account_deleted.append(lambda _session, user_id: ran.append(user_id))
    with pytest.raises(AccessDenied):
        services.uow(lambda s: services.users.delete(s, caller, user))
    assert ran == []
    assert services.purged == []
    assert services.uow(lambda s: s.get(User, user)) is not None
    assert permanent_key(user, image.id) in services.store.objects
