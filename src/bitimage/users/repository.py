"""Queries on users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bitimage.users.models import User


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

    def get_many(
        self, user_ids: Sequence[uuid.UUID], for_update: bool = False
    ) -> dict[uuid.UUID, User]:
        """These users, by id; `for_update` locks them in id order (callers never deadlock)."""
        query = select(User).where(User.id.in_(user_ids)).order_by(User.id)
        rows = self.session.scalars(query.with_for_update() if for_update else query)
        return {user.id: user for user in rows}

    def add(self, user: User) -> None:
        """Insert a user (flushed, so a duplicate fails here)."""
        self.session.add(user)
        self.session.flush()

    def add_uploads(self, user_id: uuid.UUID, count: int) -> None:
        """Change the user's image count by `count` (negative when images go)."""
        self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(image_upload_count=User.image_upload_count + count)
        )

    def delete(self, user_id: uuid.UUID) -> None:
        """Delete the user row."""
        self.session.execute(delete(User).where(User.id == user_id))
