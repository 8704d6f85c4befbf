"""User routes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from bitimage.deps import ContainerDep, CurrentUser, ReadSessionDep, WriteSessionDep
from bitimage.errors import (
    AccessDenied,
    AuthorizationFailed,
    Conflict,
    NotFound,
    ServiceUnavailable,
    responses,
)
from bitimage.users.schemas import UserAccount, UserCreated

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(AuthorizationFailed, Conflict, ServiceUnavailable),
    summary="Create your Bit-image account",
)
def create_user(
    caller: CurrentUser, session: WriteSessionDep, container: ContainerDep
) -> UserCreated:
    """Create the account of the token's user."""
    user = container.users.create(session, caller.user_id)
    return UserCreated(id=user.id, image_upload_count=user.image_upload_count)


@router.get(
    "/{user_id}",
    responses=responses(AuthorizationFailed, AccessDenied, NotFound, ServiceUnavailable),
    summary="Read your account",
)
def get_user(
    user_id: uuid.UUID, caller: CurrentUser, session: ReadSessionDep, container: ContainerDep
) -> UserAccount:
    """Your account, its image count and limit (null: unlimited)."""
    user = container.users.get(session, caller.user_id, user_id)
    return UserAccount(
        id=user.id,
        image_upload_count=user.image_upload_count,
        image_upload_limit=user.image_upload_limit,
    )


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(AuthorizationFailed, AccessDenied, NotFound, ServiceUnavailable),
    summary="Delete your account and every image",
)
def delete_user(
    user_id: uuid.UUID, caller: CurrentUser, session: WriteSessionDep, container: ContainerDep
) -> Response:
    """Delete the account, every image's rows and bytes (staging too) and queued analysis."""
    container.users.delete(session, caller.user_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
