"""Python SDK of the Bit-image API: a `Client`, typed answers and errors, a batch uploader.

Example::

    from bitimage.client import Client

    with Client("http://127.0.0.1:8000") as bit:
        bit.login("shopify@email.com", "ecommerce_2021")   # bit.signup(...) first, once
        bit.ensure_account()                               # POST /api/v1/users unless it exists
        report = bit.upload(["motorbike.jpg", "photos"], tags=["trip"], recursive=True,
                            is_private=False)              # progress=callback
        for failed in report.failed:                       # e.g. a truncated JPEG, and why
            print(failed.source, failed.reason)
        for image in bit.search(name="motorbke", limit=10):  # fuzzy: finds "motorbike"
            bit.download(image.id, f"{image.name}.{image.file_format}")

Uploads take paths or file objects; of the paths, files without an image extension are left
out (`report.ignored`) and a file whose MD5 the account already holds is skipped. Every
error answer raises the `ApiError` subclass of its status (`NotFound`, `UnsupportedMedia`...);
network failures raise `ConnectionFailed` after retries (see `RetryPolicy`).
"""

from bitimage.client.api import Client
from bitimage.client.credentials import DEFAULT_SERVER, CredentialStore
from bitimage.client.errors import (
    ERRORS,
    AccessDenied,
    ApiError,
    AuthorizationFailed,
    BitimageError,
    Conflict,
    ConnectionFailed,
    HashMismatch,
    InvalidRequest,
    MalformedToken,
    MethodNotAllowed,
    NotFound,
    NotLoggedIn,
    ServerError,
    ServiceUnavailable,
    TooLarge,
    TooManyRequests,
    UnsupportedMedia,
)
from bitimage.client.models import (
    Account,
    AccountCreated,
    Authorization,
    CallerAccount,
    DuplicateGroup,
    DuplicatePage,
    ErrorBody,
    ExpandedImage,
    HashLookup,
    HashMatches,
    ImageSummary,
    Jwks,
    Label,
    Moderation,
    NearImage,
    NotifyImage,
    SignupAnswer,
    SimilarImage,
    SimilarImages,
    SummaryPage,
    Tag,
    TagIn,
    TokenClaims,
    UploadUrl,
)
from bitimage.client.results import (
    FileOutcome,
    ProgressCallback,
    UploadFile,
    UploadProgress,
    UploadReport,
)
from bitimage.client.retry import RetryPolicy

__all__ = [
    "DEFAULT_SERVER",
    "ERRORS",
    "AccessDenied",
    "Account",
    "AccountCreated",
    "ApiError",
    "Authorization",
    "AuthorizationFailed",
    "BitimageError",
    "CallerAccount",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "CredentialStore",
    "DuplicateGroup",
    "DuplicatePage",
    "ErrorBody",
    "ExpandedImage",
    "FileOutcome",
    "HashLookup",
    "HashMatches",
    "HashMismatch",
    "ImageSummary",
    "InvalidRequest",
    "Jwks",
    "Label",
    "MalformedToken",
    "MethodNotAllowed",
    "Moderation",
    "NearImage",
    "NotFound",
    "NotLoggedIn",
    "NotifyImage",
    "ProgressCallback",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "SignupAnswer",
    "SimilarImage",
    "SimilarImages",
    "SummaryPage",
    "Tag",
    "TagIn",
    "TokenClaims",
    "TooLarge",
    "TooManyRequests",
    "UnsupportedMedia",
    "UploadFile",
    "UploadProgress",
    "UploadReport",
    "UploadUrl",
]
