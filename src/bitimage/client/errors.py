"""The SDK's exceptions: one class per error row of docs/API.md, mapped by status and `error`."""

from __future__ import annotations

import json
import uuid
from email.utils import parsedate_to_datetime
from typing import ClassVar

import httpx


class BitimageError(Exception):
    """Base of everything the SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionFailed(BitimageError):
    """The server could not be reached, or the connection broke (after every retry)."""


class NotLoggedIn(BitimageError):
    """A call needs a token and the client has none."""


class MalformedToken(NotLoggedIn):
    """The client's token is not a JWT whose claims can be read."""


class ApiError(BitimageError):
    """A non-2xx answer with the API's `{error, message, detail, image_id}` body.

    `image_id` is the one image the error concerns (None when it concerns no single image).
    """

    status_code: ClassVar[int] = 0
    error: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        detail: str = "",
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: float | None = None,
        image_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.detail = detail
        self.status = status if status is not None else self.status_code
        self.error_text = error if error is not None else self.error
        self.retry_after = retry_after
        self.image_id = image_id

    def __str__(self) -> str:
        return f"{self.error_text}: {self.message}" if self.error_text else self.message


class InvalidRequest(ApiError):
    """400: malformed body or query, bad count, too many images in a batch, bad UUID."""

    status_code = 400
    error = "Request is invalid"


class AuthorizationFailed(ApiError):
    """401: no token, or a bad or expired one."""

    status_code = 401
    error = "Authorization failed"


class AccessDenied(ApiError):
    """403: another user's account, a bad signed URL, or the image limit reached."""

    status_code = 403
    error = "Access denied"


class NotFound(ApiError):
    """404: unknown image or user, someone else's private image, nothing uploaded."""

    status_code = 404
    error = "Resource not found"


class MethodNotAllowed(ApiError):
    """405: the route does not take this method."""

    status_code = 405
    error = "Method not allowed"


class Conflict(ApiError):
    """409: the user already exists, or the image id is already confirmed."""

    status_code = 409
    error = "Conflict occurred, resource already exists"


class TooLarge(ApiError):
    """413: the upload is larger than the server's limit."""

    status_code = 413
    error = "Resource size exceeds upload limit"


class UnsupportedMedia(ApiError):
    """415: the bytes are not a supported image (or are truncated, or a decompression bomb)."""

    status_code = 415
    error = "Resource media type is unsupported"


class HashMismatch(ApiError):
    """422: the MD5 given at notify does not match the uploaded bytes."""

    status_code = 422
    error = "Resource hash mismatch"


class TooManyRequests(ApiError):
    """429: rate limited; `retry_after` says how long to wait."""

    status_code = 429
    error = "Too many requests"


class ServiceUnavailable(ApiError):
    """503: a backend of the service is down; `retry_after` says when to try again."""

    status_code = 503
    error = "Service unavailable"


class ServerError(ApiError):
    """Any other answer (a 5xx, or a body that is not the API's error body)."""


ERRORS: tuple[type[ApiError], ...] = (
    InvalidRequest,
    AuthorizationFailed,
    AccessDenied,
    NotFound,
    MethodNotAllowed,
    Conflict,
    TooLarge,
    UnsupportedMedia,
    HashMismatch,
    TooManyRequests,
    ServiceUnavailable,
)
_BY_STATUS_AND_TEXT = {(cls.status_code, cls.error): cls for cls in ERRORS}
_BY_STATUS = {cls.status_code: cls for cls in ERRORS}


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (delta or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        date = parsedate_to_datetime(response.headers.get("date", value))
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - date).total_seconds())


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error answer: by (status, error text), else by status."""
    status = response.status_code
    error, message, detail = "", "", ""
    image_id = None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = str(body.get("error") or "")
        message = str(body.get("message") or "")
        detail = str(body.get("detail") or "")
        image_id = _uuid_or_none(body.get("image_id"))
    if not message:
        text = response.text.strip().replace("\n", " ")[:200]
        message = text or f"HTTP {status} {response.reason_phrase}".strip()
    cls = _BY_STATUS_AND_TEXT.get((status, error)) or _BY_STATUS.get(status) or ServerError
    return cls(
        message,
        detail,
        status=status,
        error=error or cls.error or f"HTTP {status}",
        retry_after=retry_after(response),
        image_id=image_id,
    )


def _uuid_or_none(value: object) -> uuid.UUID | None:
    """The body's `image_id`; None when absent (servers before it) or not a UUID."""
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
