"""Queries on users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from bitimage.users.models import User

_USERS = cast(Table, User.__table__)
# Built once, as the notify path's other statements (images/repository.py says why).
_QUOTAS = (
    select(_USERS.c.id, _USERS.c.image_upload_count, _USERS.c.image_upload_limit)
    .where(_USERS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_USERS.c.id)  # one locking order: concurrent groups never deadlock
)
_QUOTAS_FOR_UPDATE = _QUOTAS.with_for_update()
_ADD_UPLOADS = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("user"))
    .values(image_upload_count=_USERS.c.image_upload_count + bindparam("count"))
)


@dataclass
class Quota:
    """A user's image count and limit (None: unlimited), as read at the start of a check."""

    user_id: uuid.UUID
    count: int
    limit: int | None


class UserRepository:
    """Reads and writes users in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: uuid.UUID, for_update: bool = False) -> User | None:
        """The user, or None."""
        query = select(User).where(User.id == user_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def all(self) -> list[User]:
        """Every user, oldest account first."""
        return list(self.session.scalars(select(User).order_by(User.created_at, User.id)))

    def quotas(
        self, user_ids: Sequence[uuid.UUID], for_update: bool = False
    ) -> dict[uuid.UUID, Quota]:
        """These users' image counts and limits; `for_update` locks them in id order."""
        query = _QUOTAS_FOR_UPDATE if for_update else _QUOTAS
        rows = self.session.execute(query, {"ids": list(user_ids)})
        return {user_id: Quota(user_id, count, limit) for user_id, count, limit in rows}

    def add(self, user: User) -> None:
        """Insert a user (flushed, so a duplicate fails here)."""
        self.session.add(user)
        self.session.flush()

    def add_uploads(self, user_id: uuid.UUID, count: int) -> None:
        """Change the user's image count by `count` (negative when images go)."""
        self.session.execute(_ADD_UPLOADS, {"user": user_id, "count": count})

    def delete(self, user_id: uuid.UUID) -> None:
        """Delete the user row."""
        self.session.execute(delete(User).where(User.id == user_id))
