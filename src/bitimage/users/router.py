"""User routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from bitimage.cas.deps import CurrentUser
from bitimage.deps import ReadSessionDep, WriteSessionDep, provide
from bitimage.errors import (
    AccessDenied,
    AuthorizationFailed,
    Conflict,
    NotFound,
    ServiceUnavailable,
    responses,
)
from bitimage.users.schemas import CallerAccount, UserAccount, UserCreated
from bitimage.users.service import UserService

UserServiceDep = Annotated[UserService, Depends(provide("users", UserService))]

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(AuthorizationFailed, Conflict, ServiceUnavailable),
    summary="Create your Bit-image account",
)
def create_user(
    caller: CurrentUser, session: WriteSessionDep, users: UserServiceDep
) -> UserCreated:
    """Create the account of the token's user."""
    user = users.create(session, caller.user_id)
    return UserCreated(id=user.id, image_upload_count=user.image_upload_count)


@router.get(
    "/me",
    responses=responses(AuthorizationFailed, NotFound, ServiceUnavailable),
    summary="Read the account of the token's user",
)
def get_me(caller: CurrentUser, session: ReadSessionDep, users: UserServiceDep) -> CallerAccount:
    """Your account, as GET /users/{id} answers it, plus the token's email if it has one."""
    user = users.get(session, caller.user_id, caller.user_id)
    return CallerAccount(
        id=user.id,
        image_upload_count=user.image_upload_count,
        image_upload_limit=user.image_upload_limit,
        email=caller.email,
    )


@router.get(
    "/{user_id:uuid}",  # only ids: DELETE /me is a 405, not a malformed id
    responses=responses(AuthorizationFailed, AccessDenied, NotFound, ServiceUnavailable),
    summary="Read your account",
)
def get_user(
    user_id: uuid.UUID, caller: CurrentUser, session: ReadSessionDep, users: UserServiceDep
) -> UserAccount:
    """Your account, its image count and limit (null: unlimited)."""
    user = users.get(session, caller.user_id, user_id)
    return UserAccount(
        id=user.id,
        image_upload_count=user.image_upload_count,
        image_upload_limit=user.image_upload_limit,
    )


@router.delete(
    "/{user_id:uuid}",  # only ids: DELETE /me is a 405, not a malformed id
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(AuthorizationFailed, AccessDenied, NotFound, ServiceUnavailable),
    summary="Delete your account and every image",
)
def delete_user(
    user_id: uuid.UUID, caller: CurrentUser, session: WriteSessionDep, users: UserServiceDep
) -> Response:
    """Delete the account, every image's rows and bytes (staging too) and queued analysis."""
    users.delete(session, caller.user_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
