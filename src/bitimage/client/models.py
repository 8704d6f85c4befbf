"""Typed answers of every route of docs/API.md (unknown extra fields are ignored, as added)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SignupAnswer(_Model):
    """POST /cas/signup: the new CAS account."""

    user_id: uuid.UUID
    email: str


class LoginAnswer(_Model):
    """POST /cas/loginSubmit: the answer with a signed JWT."""

    status: int = 202
    token: str


class Authorization(_Model):
    """POST /cas/authorizeUser: whether a token is valid, and whose it is."""

    is_user_authorized: bool
    user_id: uuid.UUID | None


class Jwks(_Model):
    """GET /cas/.well-known/jwks.json: the keys tokens are signed with."""

    keys: list[dict[str, Any]]


class AccountCreated(_Model):
    """POST /api/v1/users: the new Bit-image account."""

    id: uuid.UUID
    image_upload_count: int


class Account(AccountCreated):
    """GET /api/v1/users/{id}: the account, its image count and limit (None: unlimited)."""

    image_upload_limit: int | None


class CallerAccount(Account):
    """GET /api/v1/users/me: the caller's account, with the token's email when it has one."""

    email: str | None = None


class UploadUrl(_Model):
    """One pre-signed PUT URL and the image id it is for."""

    url: str
    method: Literal["PUT"] = "PUT"
    image_id: uuid.UUID


class UploadUrls(_Model):
    """GET /api/v1/images/upload_urls."""

    image_upload_urls: list[UploadUrl]


class TagIn(_Model):
    """A tag given at notify time."""

    name: str


class NotifyImage(_Model):
    """One uploaded image to confirm (POST /api/v1/images)."""

    id: uuid.UUID
    name: str
    hash: str = Field(pattern=r"^[0-9a-fA-F]{32}$")
    is_private: bool = True
    tags: list[TagIn] = Field(default_factory=list)


class ImageSummary(_Model):
    """An image in a list, with pre-signed URLs that expire (renditions: None until made)."""

    id: uuid.UUID
    name: str
    is_private: bool
    file_format: str
    view_url: str
    thumbnail_url: str | None
    preview_url: str | None
    placeholder: str | None  # a ThumbHash, base64
    created_at: datetime
    width: int
    height: int
    size_bytes: int
    analysis_status: str


class ConfirmedImages(_Model):
    """POST /api/v1/images: the confirmed batch."""

    images: list[ImageSummary]


class SummaryPage(_Model):
    """A page of summaries; `next_cursor` fetches the next one (None: the last page)."""

    images: list[ImageSummary]
    next_cursor: str | None


class SimilarImage(_Model):
    """A copy or look-alike: its summary, the dHash distance (None before analysis and for
    kind=visual), same bytes, and for kind=visual the cosine similarity (1: alike)."""

    image: ImageSummary
    distance: int | None
    exact: bool
    similarity: float | None = None


class SimilarImages(_Model):
    """GET /api/v1/images/{id}/similar: the image's copies or look-alikes, nearest first."""

    image_id: uuid.UUID
    kind: Literal["duplicate", "visual"]
    max_distance: int | None
    images: list[SimilarImage]


class DuplicateGroup(_Model):
    """Images of one picture, the oldest first (distances are from it)."""

    images: list[SimilarImage]


class DuplicatePage(_Model):
    """GET /api/v1/images/duplicates: a page of groups (`next_page` None: the last)."""

    groups: list[DuplicateGroup]
    total_groups: int
    max_distance: int
    next_page: int | None


class NearImage(_Model):
    """One of your images near a hash asked about, and how many bits apart they are."""

    image: ImageSummary
    distance: int


class HashMatches(_Model):
    """Your images near one hash, nearest first."""

    dhash: str
    images: list[NearImage]


class HashLookup(_Model):
    """GET /api/v1/images/duplicates/lookup: one entry a hash asked about, in order."""

    max_distance: int
    matches: list[HashMatches]


class Tag(_Model):
    """A tag of an image."""

    id: uuid.UUID
    name: str


class Label(_Model):
    """A content label found by analysis, its confidence in [0, 1] and the analyser behind it."""

    id: uuid.UUID
    name: str
    confidence: float
    source: str


class Moderation(_Model):
    """The explicit-content check of an image (shown to its owner only)."""

    status: str
    explicit_score: float | None = None
    classes: dict[str, float] = Field(default_factory=dict)


class ExpandedImage(_Model):
    """GET /api/v1/images/{id}/expanded: everything about one image."""

    id: uuid.UUID
    name: str
    hash: str
    is_private: bool
    size_mb: float
    size_bytes: int
    file_format: str
    width: int
    height: int
    view_url: str
    thumbnail_url: str | None
    preview_url: str | None
    placeholder: str | None
    created_at: datetime
    analysis_status: str
    tags: list[Tag]
    labels: list[Label]
    text: str | None = None
    colours: list[str] = Field(default_factory=list)
    exif: dict[str, Any] | None = None
    moderation: Moderation | None = None
    analysis_error: str | None = None


class ErrorBody(_Model):
    """The body of every error answer."""

    error: str
    message: str
    detail: str
    image_id: uuid.UUID | None = None  # the one image the error concerns (absent: none)


class TokenClaims(_Model):
    """The claims of a CAS token, read locally without checking the signature."""

    user_id: uuid.UUID
    email: str | None = None
    exp: int | None = None
    iss: str | None = None
