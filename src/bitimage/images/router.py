"""Image routes: upload URLs, notify, summaries, expanded view, bulk delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from bitimage.deps import ContainerDep, CurrentUser, OptionalUser, ReadSessionDep, WriteSessionDep
from bitimage.errors import (
    AccessDenied,
    AuthorizationFailed,
    Conflict,
    HashMismatch,
    NotFound,
    TooLarge,
    TooManyRequests,
    UnsupportedMedia,
    responses,
)
from bitimage.images.schemas import (
    ConfirmedImages,
    ExpandedImage,
    NotifyRequest,
    SummaryPage,
    UploadUrls,
)
from bitimage.search.ports import SearchQuery

router = APIRouter(prefix="/api/v1/images", tags=["images"])

NameQ = Annotated[str | None, Query(description="fuzzy match on the image name")]
TagQ = Annotated[str | None, Query(description="fuzzy match on any of the image's tags")]
LabelQ = Annotated[
    str | None,
    Query(description="fuzzy match on any content label; ranks by the label's confidence"),
]
ConfidenceQ = Annotated[
    float | None,
    Query(description="with content_label: only labels at least this confident (0 to 1)"),
]
TextQ = Annotated[str | None, Query(description="fuzzy match on text read in the image (OCR)")]
HashQ = Annotated[str | None, Query(description="exact hex MD5 of the image's bytes")]
LimitQ = Annotated[int, Query(description="page size, 1 to 1000")]
CursorQ = Annotated[str | None, Query(description="next_cursor of the previous page")]


@router.get(
    "/upload_urls",
    responses=responses(AuthorizationFailed, AccessDenied, NotFound, TooManyRequests),
    summary="Get pre-signed upload URLs",
)
def upload_urls(
    caller: CurrentUser,
    session: WriteSessionDep,
    container: ContainerDep,
    image_count: Annotated[int, Query(description="how many URLs, 1 to 1000")],
) -> UploadUrls:
    """One fresh image id and pre-signed PUT URL (into staging) per image to upload."""
    urls = container.uploads.issue_upload_urls(session, caller.user_id, image_count)
    return UploadUrls(image_upload_urls=urls)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        AuthorizationFailed,
        AccessDenied,
        NotFound,
        Conflict,
        TooLarge,
        UnsupportedMedia,
        HashMismatch,
    ),
    summary="Confirm uploaded images (up to 5)",
)
def confirm_images(
    body: NotifyRequest, caller: CurrentUser, container: ContainerDep
) -> ConfirmedImages:
    """Verify each uploaded object and keep the batch, all or nothing."""
    # No request session: concurrent batches are confirmed in one transaction (group commit).
    images = container.uploads.confirm(caller.user_id, body.images)
    return ConfirmedImages(images=[container.images.summary(image) for image in images])


@router.get(
    "/private/summary",
    responses=responses(AuthorizationFailed),
    summary="Search your own images",
)
def private_summary(
    caller: CurrentUser,
    session: ReadSessionDep,
    container: ContainerDep,
    name: NameQ = None,
    tag: TagQ = None,
    content_label: LabelQ = None,
    min_confidence: ConfidenceQ = None,
    text: TextQ = None,
    hash: HashQ = None,
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> SummaryPage:
    """Your images; filters narrow (AND), best matches first, then newest."""
    query = SearchQuery(
        caller.user_id,
        name,
        tag,
        content_label,
        hash,
        limit,
        cursor,
        text=text,
        min_confidence=min_confidence,
    )
    return container.search.summaries(session, query)


@router.get("/public/summary", summary="Search everyone's public images")
def public_summary(
    session: ReadSessionDep,
    container: ContainerDep,
    name: NameQ = None,
    tag: TagQ = None,
    content_label: LabelQ = None,
    min_confidence: ConfidenceQ = None,
    text: TextQ = None,
    limit: LimitQ = 100,
    cursor: CursorQ = None,
) -> SummaryPage:
    """Public images of all users, newest first (or best first with filters); no token needed.

    Images flagged by the explicit-content check are left out until a person clears them.
    """
    query = SearchQuery(
        None,
        name,
        tag,
        content_label,
        None,
        limit,
        cursor,
        text=text,
        min_confidence=min_confidence,
    )
    return container.search.summaries(session, query)


@router.get(
    "/{image_id}/expanded",
    responses=responses(NotFound),
    summary="Everything about one image",
)
def expanded(
    image_id: uuid.UUID, caller: OptionalUser, session: ReadSessionDep, container: ContainerDep
) -> ExpandedImage:
    """Your image, or anyone's public image; a token is needed only for private ones."""
    viewer = caller.user_id if caller else None
    return container.images.expanded(session, viewer, image_id)


@router.post(
    "/{image_id}/moderation/clear",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(AuthorizationFailed, NotFound),
    summary="Show an image the explicit-content check hid",
)
def clear_moderation(
    image_id: uuid.UUID, caller: CurrentUser, session: WriteSessionDep, container: ContainerDep
) -> Response:
    """Your image, flagged by the explicit-content check, goes back into the public summary."""
    container.analysis.clear_moderation(session, image_id, caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(AuthorizationFailed, NotFound),
    summary="Delete some of your images",
)
def delete_images(
    caller: CurrentUser,
    session: WriteSessionDep,
    container: ContainerDep,
    image_id: Annotated[list[uuid.UUID], Query(alias="id", description="repeat: ?id=..&id=..")],
) -> Response:
    """Delete your images, all or nothing; their bytes leave storage too."""
    container.images.delete_images(session, caller.user_id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
