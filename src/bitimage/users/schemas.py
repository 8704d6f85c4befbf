"""User answers."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class UserCreated(BaseModel):
    """The answer to account creation."""

    id: uuid.UUID
    image_upload_count: int


class UserAccount(UserCreated):
    """An account with its limit (null: unlimited)."""

    image_upload_limit: int | None


class CallerAccount(UserAccount):
    """The caller's own account, with the email the built-in CAS put in the token."""

    email: str | None = None
