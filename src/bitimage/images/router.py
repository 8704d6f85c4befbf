"""Image routes: upload URLs, notify, summaries, expanded view, bulk delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from bitimage.cas.deps import CurrentUser, OptionalUser
from bitimage.deps import ReadSessionDep, ReplicaSessionDep, WriteSessionDep, provide
from bitimage.errors import (
    AccessDenied,
    AuthorizationFailed,
    BodyTooLarge,
    Conflict,
    HashMismatch,
    NotFound,
    ServiceUnavailable,
    TooLarge,
    TooManyRequests,
    UnsupportedMedia,
    responses,
)
from bitimage.images.duplicate_schemas import (
    DuplicatePage,
    DuplicatesQuery,
    HashLookup,
    HashLookupQuery,
    SimilarImages,
    SimilarQuery,
)
from bitimage.images.duplicates import DuplicateService
from bitimage.images.filters import PrivateSummaryFilters, SummaryFilters
from bitimage.images.schemas import (
    ConfirmedImages,
    ExpandedImage,
    ImageEdit,
    NotifyRequest,
    SummaryPage,
    UploadUrls,
)
from bitimage.images.service import ImageService
from bitimage.images.summaries import SearchService
from bitimage.images.uploads import UploadService

UploadServiceDep = Annotated[UploadService, Depends(provide("uploads", UploadService))]
ImageServiceDep = Annotated[ImageService, Depends(provide("images", ImageService))]
SearchServiceDep = Annotated[SearchService, Depends(provide("search", SearchService))]
DuplicateServiceDep = Annotated[DuplicateService, Depends(provide("duplicates", DuplicateService))]

router = APIRouter(prefix="/api/v1/images", tags=["images"])

# The upper bound is BITIMAGE_UPLOAD_URLS_MAX, checked by the service; the schema states its
# default (a route's parameters are declared once, before settings are read).
ImageCountQ = Annotated[
    int,
    Query(
        ge=1,
        json_schema_extra={"maximum": 1000},
        description="how many URLs, 1 to 1000 (the server's BITIMAGE_UPLOAD_URLS_MAX)",
    ),
]
# Expanded answers without a token for public images: the token is optional, not required.
OPTIONAL_TOKEN: dict[str, object] = {"security": [{}]}


@router.get(
    "/upload_urls",
    responses=responses(
        AuthorizationFailed, AccessDenied, NotFound, TooManyRequests, ServiceUnavailable
    ),
    summary="Get pre-signed upload URLs",
)
def upload_urls(
    caller: CurrentUser,
    session: WriteSessionDep,
    uploads: UploadServiceDep,
    image_count: ImageCountQ,
) -> UploadUrls:
    """One fresh image id and pre-signed PUT URL (into staging) per image to upload."""
    urls = uploads.issue_upload_urls(session, caller.user_id, image_count)
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
        ServiceUnavailable,
    ),
    summary="Confirm uploaded images (up to 5)",
)
def confirm_images(
    body: NotifyRequest,
    caller: CurrentUser,
    uploads: UploadServiceDep,
    images_service: ImageServiceDep,
) -> ConfirmedImages:
    """Verify each uploaded object and keep the batch, all or nothing."""
    # No request session: concurrent batches are confirmed in one transaction (group commit).
    images = uploads.confirm(caller.user_id, body.images)
    return ConfirmedImages(images=[images_service.summary(image) for image in images])


@router.get(
    "/private/summary",
    responses=responses(AuthorizationFailed, ServiceUnavailable),
    summary="Search your own images",
)
def private_summary(
    caller: CurrentUser,
    session: ReplicaSessionDep,  # searches may lag a fresh notify (README, Read replicas)
    search: SearchServiceDep,
    filters: Annotated[PrivateSummaryFilters, Query()],
) -> SummaryPage:
    """Your images; filters narrow (AND), best matches first, then newest."""
    return search.summaries(session, filters.query(caller.user_id))


@router.get(
    "/public/summary",
    responses=responses(ServiceUnavailable),
    summary="Search everyone's public images",
)
def public_summary(
    session: ReplicaSessionDep,
    search: SearchServiceDep,
    filters: Annotated[SummaryFilters, Query()],
) -> SummaryPage:
    """Public images of all users, newest first (or best first with filters); no token needed.

    Images flagged by the explicit-content check are left out until a person clears them.
    """
    return search.summaries(session, filters.query())


@router.get(
    "/{image_id}/expanded",
    responses=responses(AuthorizationFailed, NotFound, ServiceUnavailable),
    summary="Everything about one image",
    openapi_extra=OPTIONAL_TOKEN,
)
def expanded(
    image_id: uuid.UUID, caller: OptionalUser, session: ReadSessionDep, images: ImageServiceDep
) -> ExpandedImage:
    """Your image, or anyone's public image; a token is needed only for private ones."""
    viewer = caller.user_id if caller else None
    return images.expanded(session, viewer, image_id)


@router.get(
    "/duplicates",
    responses=responses(AuthorizationFailed, ServiceUnavailable),
    summary="Groups of the same picture in your library",
)
def duplicates(
    caller: CurrentUser,
    session: ReadSessionDep,
    service: DuplicateServiceDep,
    query: Annotated[DuplicatesQuery, Query()],
) -> DuplicatePage:
    """Your images kept more than once: the same bytes, or resized, re-encoded, lightly edited."""
    return service.groups(session, caller.user_id, query)


@router.get(
    "/duplicates/lookup",
    responses=responses(AuthorizationFailed, ServiceUnavailable),
    summary="Your images near some perceptual hashes",
)
def duplicate_lookup(
    caller: CurrentUser,
    session: ReadSessionDep,
    service: DuplicateServiceDep,
    query: Annotated[HashLookupQuery, Query()],
) -> HashLookup:
    """Your analysed images whose dHash is within `max_distance` of each hash (before an upload)."""
    return service.lookup(session, caller.user_id, query)


@router.get(
    "/{image_id}/similar",
    responses=responses(AuthorizationFailed, NotFound, ServiceUnavailable),
    summary="Other copies of one image",
    openapi_extra=OPTIONAL_TOKEN,
)
def similar(
    image_id: uuid.UUID,
    caller: OptionalUser,
    session: ReadSessionDep,
    service: DuplicateServiceDep,
    query: Annotated[SimilarQuery, Query()],
) -> SimilarImages:
    """Copies of your image in your library; of a public image, among public images."""
    viewer = caller.user_id if caller else None
    return service.similar(session, viewer, image_id, query)


@router.patch(
    "/{image_id:uuid}",  # only ids: PATCH /upload_urls is a 405, not a malformed id
    responses=responses(AuthorizationFailed, NotFound, BodyTooLarge, ServiceUnavailable),
    summary="Rename your image, make it public or private, or replace its tags",
)
def edit_image(
    image_id: uuid.UUID,
    body: ImageEdit,
    caller: CurrentUser,
    session: WriteSessionDep,
    images: ImageServiceDep,
) -> ExpandedImage:
    """Change the fields given (others stay); search finds the new name and tags at once."""
    return images.edit(session, caller.user_id, image_id, body)


@router.post(
    "/{image_id}/moderation/clear",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(AuthorizationFailed, NotFound, ServiceUnavailable),
    summary="Show an image the explicit-content check hid",
)
def clear_moderation(
    image_id: uuid.UUID, caller: CurrentUser, session: WriteSessionDep, images: ImageServiceDep
) -> Response:
    """Your image, flagged by the explicit-content check, goes back into the public summary."""
    images.clear_moderation(session, image_id, caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(AuthorizationFailed, NotFound, ServiceUnavailable),
    summary="Delete some of your images",
)
def delete_images(
    caller: CurrentUser,
    session: WriteSessionDep,
    images: ImageServiceDep,
    image_id: Annotated[list[uuid.UUID], Query(alias="id", description="repeat: ?id=..&id=..")],
) -> Response:
    """Delete your images, all or nothing; their bytes leave storage too."""
    images.delete_images(session, caller.user_id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
