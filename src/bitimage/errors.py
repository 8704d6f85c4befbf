"""One error family: every non-2xx answer is the {error, message, detail} body of docs/API.md."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str
    message: str
    detail: str
    image_id: uuid.UUID | None = None  # the one image the error concerns; absent otherwise


class AppError(Exception):
    """Base of every error a client may see; subclasses fix status and `error` wording."""

    status_code: ClassVar[int] = 500
    error: ClassVar[str] = "Internal server error"
    default_detail: ClassVar[str] = "Try again later; if it persists, report it to the operator"

    def __init__(
        self,
        message: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        image_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or self.default_detail
        self.headers = headers
        self.image_id = image_id

    def body(self) -> ErrorBody:
        """The JSON body for this error."""
        return ErrorBody(
            error=self.error, message=self.message, detail=self.detail, image_id=self.image_id
        )

    def payload(self) -> dict[str, object]:
        """The body as JSON-ready data; `image_id` only when the error concerns one image."""
        return self.body().model_dump(mode="json", exclude_none=True)


class InvalidRequest(AppError):
    status_code = 400
    error = "Request is invalid"
    default_detail = "Fix the request as the message says and send it again"


class AuthorizationFailed(AppError):
    status_code = 401
    error = "Authorization failed"
    default_detail = "Send a valid token as 'Authorization: Bearer <token>' (log in to get one)"


class AccessDenied(AppError):
    status_code = 403
    error = "Access denied"
    default_detail = "You may only act on your own account and images"


class NotFound(AppError):
    status_code = 404
    error = "Resource not found"
    default_detail = "Ensure that the provided resource id and user id are correct"


class MethodNotAllowed(AppError):
    status_code = 405
    error = "Method not allowed"
    default_detail = "See /docs for the methods each route accepts"


class Conflict(AppError):
    status_code = 409
    error = "Conflict occurred, resource already exists"
    default_detail = "Ensure that the provided resource id and user id are correct"


class TooLarge(AppError):
    status_code = 413
    error = "Resource size exceeds upload limit"
    default_detail = "Upload a smaller file"


class BodyTooLarge(TooLarge):
    default_detail = "Send a smaller JSON body; the largest allowed is BITIMAGE_MAX_JSON_BYTES"


class UnsupportedMedia(AppError):
    status_code = 415
    error = "Resource media type is unsupported"
    default_detail = "Upload a JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC or HEIF image"


class HashMismatch(AppError):
    status_code = 422
    error = "Resource hash mismatch"
    default_detail = "Send the hex MD5 of exactly the bytes you uploaded, or upload the file again"


class TooManyRequests(AppError):
    status_code = 429
    error = "Too many requests"
    default_detail = "Wait for the number of seconds in Retry-After, then try again"


class ServiceUnavailable(AppError):
    status_code = 503
    error = "Service unavailable"
    default_detail = "A backend of the service is unreachable; try again shortly"


ERROR_CLASSES: tuple[type[AppError], ...] = (
    InvalidRequest,
    AuthorizationFailed,
    AccessDenied,
    NotFound,
    Conflict,
    TooLarge,
    UnsupportedMedia,
    HashMismatch,
    TooManyRequests,
    ServiceUnavailable,
)


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries documenting the given error answers of a route."""
    documented: tuple[type[AppError], ...] = (InvalidRequest, *errors)
    return {cls.status_code: {"model": ErrorBody, "description": cls.error} for cls in documented}
