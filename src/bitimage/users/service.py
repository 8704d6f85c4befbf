"""Account use cases: create, read, delete (with every image, byte and queued job)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bitimage.config import Settings
from bitimage.errors import AccessDenied, AuthorizationFailed, Conflict, InvalidRequest, NotFound
from bitimage.users.models import User
from bitimage.users.repository import UserRepository

_CONFLICT_DETAIL = "Ensure that the provided resource id and user id are correct"

# Run in the deleting transaction with the user's id, before the account row goes: wired in
# bootstrap to delete the user's images (and queue their bytes) and the built-in CAS identity.
AccountDeleted = Callable[[Session, uuid.UUID], None]
# Whether the identity behind a token still exists (only known for the built-in CAS).
IdentityExists = Callable[[Session, uuid.UUID], bool]


class UserService:
    """Bit-image accounts, one per CAS identity."""

    def __init__(
        self,
        settings: Settings,
        on_account_deleted: Sequence[AccountDeleted] = (),
        identity_exists: IdentityExists | None = None,
    ) -> None:
        self.settings = settings
        self.on_account_deleted = list(on_account_deleted)
        self.identity_exists = identity_exists

    def create(self, session: Session, user_id: uuid.UUID) -> User:
        """Create the caller's account; 409 if it exists, 401 if its identity was deleted."""
        # A token outlives a deleted identity (it is checked locally until it expires): it
        # must not bring back an account whose email and password are gone.
        if self.identity_exists is not None and not self.identity_exists(session, user_id):
            raise AuthorizationFailed(
                f"The identity {user_id} of this token was deleted", "Sign up again, then log in"
            )
        repo = UserRepository(session)
        if repo.get(user_id) is not None:
            raise Conflict("User with provided id already exists", _CONFLICT_DETAIL)
        user = User(
            id=user_id,
            image_upload_count=0,
            image_upload_limit=self.settings.default_image_upload_limit,
        )
        try:
            with session.begin_nested():
                repo.add(user)
        except IntegrityError:
            raise Conflict("User with provided id already exists", _CONFLICT_DETAIL) from None
        return user

    def _own(self, session: Session, caller: uuid.UUID, user_id: uuid.UUID, lock: bool) -> User:
        if caller != user_id:
            raise AccessDenied(f"User {caller} may not act on the account of user {user_id}")
        user = UserRepository(session).get(user_id, for_update=lock)
        if user is None:
            raise NotFound(f"User {user_id} has no Bit-image account")
        return user

    def get(self, session: Session, caller: uuid.UUID, user_id: uuid.UUID) -> User:
        """The caller's own account (403 for another's)."""
        return self._own(session, caller, user_id, lock=False)

    def delete(self, session: Session, caller: uuid.UUID, user_id: uuid.UUID) -> None:
        """Delete the caller's account, every image row, and (after commit) every object."""
        self._own(session, caller, user_id, lock=True)
        self._delete_locked(session, user_id)

    def delete_as_operator(self, session: Session, user_id: uuid.UUID) -> None:
        """`bitimage admin delete-user`: the API's deletion, without a caller to check."""
        if UserRepository(session).get(user_id, for_update=True) is None:
            raise NotFound(f"User {user_id} has no Bit-image account")
        self._delete_locked(session, user_id)

    def _delete_locked(self, session: Session, user_id: uuid.UUID) -> None:
        # The owner's row is locked first, as every writer takes it; the rows that hang off the
        # account go before it (its images' search rows and jobs are not cascaded).
        for hook in self.on_account_deleted:
            hook(session, user_id)
        UserRepository(session).delete(user_id)

    def list_all(self, session: Session) -> list[User]:
        """Every account, oldest first (the operator's `bitimage admin users`)."""
        return UserRepository(session).all()

    def set_limit(self, session: Session, user_id: uuid.UUID, limit: int | None) -> User:
        """Set an account's image limit (None: unlimited); images above it stay, new ones wait."""
        if limit is not None and limit < 0:
            raise InvalidRequest("An image limit is 0 or more", "Give a count, or unlimited")
        # Locked as notify locks it: a group counting against the old limit commits first.
        user = UserRepository(session).get(user_id, for_update=True)
        if user is None:
            raise NotFound(f"User {user_id} has no Bit-image account")
        user.image_upload_limit = limit
        return user
