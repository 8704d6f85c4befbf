"""The local store's own signed routes: PUT streams an upload in, GET serves an object."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from bitimage.config import describe_size
from bitimage.db.session import Database
from bitimage.errors import AccessDenied, AppError, Conflict, NotFound, TooLarge, responses
from bitimage.imaging import content_type
from bitimage.storage.keys import (
    STAGING_PREFIX,
    family_of,
    image_id_of,
    is_valid_key,
    user_id_of,
)
from bitimage.storage.local import LocalSignedStore

# Raises unless the upload URL of (user, image) may still be written to (the grant's owner,
# the images feature, provides it: storage knows no feature).
UploadCheck = Callable[[Session, uuid.UUID, uuid.UUID], None]


@dataclass(frozen=True)
class StorageRoutes:
    """What these routes use; create_app sets it as `app.state.storage_routes`."""

    store: LocalSignedStore
    database: Database
    max_bytes: int
    check_put: UploadCheck

    def may_put(self, user_id: uuid.UUID, image_id: uuid.UUID) -> None:
        """The PUT's unit of work: one read, in a transaction of its own."""
        with self.database.transaction(write=False) as session:
            self.check_put(session, user_id, image_id)


async def storage_routes(request: Request) -> StorageRoutes:
    """The wiring of the storage routes."""
    routes: StorageRoutes = request.app.state.storage_routes
    return routes


StorageDep = Annotated[StorageRoutes, Depends(storage_routes)]

T = TypeVar("T")
PREFIX = "/storage"
SIGNATURE_MAX = 128
router = APIRouter(prefix=PREFIX, tags=["storage (local store)"])

_FLUSH_AT = 1024 * 1024  # hand bytes to a thread in 1 MiB pieces: hashing stays off the loop

ExpiresQ = Annotated[int, Query(description="expiry, seconds since the epoch")]
SignatureQ = Annotated[
    str, Query(max_length=SIGNATURE_MAX, description="HMAC of method, key and expiry")
]


ScopeQ = Annotated[
    str | None,
    Query(
        pattern="^[opst]{1,4}$",
        description="the keys of one image one signature reaches (o: original, t: thumbnail, "
        "p: preview, s: the copy without metadata)",
    ),
]


def _check(
    store: LocalSignedStore,
    method: str,
    key: str,
    expires: int,
    signature: str,
    scope: str | None = None,
) -> None:
    if not is_valid_key(key):
        raise NotFound(f"No object at {key[:200]}")
    if scope is None:
        valid = store.signer.verify(method, key, expires, signature, time.time())
    else:
        family = family_of(key)
        valid = (
            family is not None
            and family[1] in scope
            and store.signer.verify(method, f"{family[0]}|{scope}", expires, signature, time.time())
        )
    if not valid:
        raise AccessDenied(
            "The signed URL is invalid or has expired", "Ask the API for a fresh URL"
        )


@router.put(
    "/{key:path}",
    status_code=status.HTTP_200_OK,
    responses=responses(AccessDenied, NotFound, Conflict, TooLarge),
    summary="Upload raw bytes to a signed URL",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_object(
    key: str, expires: ExpiresQ, signature: SignatureQ, request: Request, routes: StorageDep
) -> Response:
    """Stream the body to a temporary file, hashing as it comes; 413 past the size limit.

    Every refusal closes the connection: the unread rest of the body is not drained.
    """
    try:
        return await _receive(key, expires, signature, request, routes)
    except AppError as exc:
        exc.headers = {**(exc.headers or {}), "Connection": "close"}
        raise


async def _receive(
    key: str, expires: int, signature: str, request: Request, routes: StorageDep
) -> Response:
    store = routes.store
    _check(store, "PUT", key, expires, signature)
    if not key.startswith(STAGING_PREFIX):
        raise AccessDenied("Uploads go to the staging area only")
    image_id = image_id_of(key)
    # Single use: once a notify of this id began (or its account went), no more bytes. The
    # check shares the thread hop of the first write (before any byte reaches the disk): a
    # hop of its own cost a 1 MB upload a tenth of its server time.
    check: Callable[[], None] | None = functools.partial(routes.may_put, user_id_of(key), image_id)
    limit = routes.max_bytes
    too_large = TooLarge(
        f"Image {image_id} is larger than the upload limit of {describe_size(limit)}",
        image_id=image_id,
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large  # refused before a byte of the body is read
    writer = store.open_writer(key)
    try:
        pending: list[bytes] = []
        buffered = received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large
            if chunk:
                pending.append(chunk)
                buffered += len(chunk)
            if buffered >= _FLUSH_AT:
                await anyio.to_thread.run_sync(_checked, check, writer.write, *pending)
                pending, buffered, check = [], 0, None
        # The last chunks and the commit share one thread hop: a 1 MB upload makes only this one.
        md5 = await anyio.to_thread.run_sync(_checked, check, writer.commit, *pending)
    except BaseException:
        await anyio.to_thread.run_sync(writer.abort)
        raise
    return Response(status_code=status.HTTP_200_OK, headers={"ETag": f'"{md5}"'})


def _checked(check: Callable[[], None] | None, step: Callable[..., T], *chunks: bytes) -> T:
    """Run the URL's check (when not done yet), then write the chunks with `step`."""
    if check is not None:
        check()
    return step(*chunks)


@router.get(
    "/{key:path}",
    response_class=FileResponse,
    responses={
        **responses(AccessDenied, NotFound),
        200: {"content": {"image/*": {}}, "description": "The image bytes"},
    },
    summary="Download an object from a signed URL",
)
def get_object(
    key: str,
    expires: ExpiresQ,
    signature: SignatureQ,
    request: Request,
    routes: StorageDep,
    scope: ScopeQ = None,
) -> Response:
    """The bytes with their sniffed Content-Type, a strong ETag (the MD5) and nosniff.

    Cacheable privately for as long as the URL lives; `If-None-Match` answers 304.
    """
    return _serve(key, expires, signature, request, routes, scope)


@router.head(
    "/{key:path}",
    responses={
        **responses(AccessDenied, NotFound),
        200: {"description": "The headers a GET of this signed URL answers, no body"},
    },
    summary="Headers of an object, from a signed GET URL",
)
def head_object(
    key: str,
    expires: ExpiresQ,
    signature: SignatureQ,
    request: Request,
    routes: StorageDep,
    scope: ScopeQ = None,
) -> Response:
    """What GET answers, without the body; the URL is checked as a GET URL."""
    return _serve(key, expires, signature, request, routes, scope)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, or `*`."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _serve(
    key: str,
    expires: int,
    signature: str,
    request: Request,
    routes: StorageDep,
    scope: str | None = None,
) -> Response:
    store = routes.store
    _check(store, "GET", key, expires, signature, scope)
    info = store.stat(key)
    if info is None:
        raise NotFound(f"No object at {key}")
    etag = f'"{info.md5 or store.md5(key)}"'
    # An object never changes under its key (a confirmed image, its renditions, its stripped
    # copy): a browser may keep it as long as the URL that fetched it lives.
    max_age = max(0, expires - int(time.time()))
    headers = {
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": f"private, max-age={max_age}",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    media_type = content_type(store.read_range(key, 0, 64))
    return FileResponse(store.path_for(key), media_type=media_type, headers=headers)
