"""Image request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bitimage.textrules import RULE, VISIBLE_TEXT


def _collapse_spaces(value: str) -> str:
    # The patterns already refuse controls and blank values; this only normalises spacing.
    return " ".join(value.split())


Name = Annotated[
    str,
    Field(min_length=1, max_length=255, pattern=VISIBLE_TEXT, description=f"not blank; {RULE}"),
    AfterValidator(_collapse_spaces),
]
TagName = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=VISIBLE_TEXT, description=f"not blank; {RULE}"),
    AfterValidator(_collapse_spaces),
]


class UploadUrl(BaseModel):
    """One pre-signed upload URL and the image id it is for."""

    url: str
    method: Literal["PUT"] = "PUT"
    image_id: uuid.UUID


class UploadUrls(BaseModel):
    """The answer to GET /images/upload_urls."""

    image_upload_urls: list[UploadUrl]


class TagIn(BaseModel):
    """A tag given at notify time."""

    model_config = ConfigDict(extra="forbid")

    name: TagName


class NotifyImage(BaseModel):
    """One uploaded image to confirm."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    name: Name
    hash: str = Field(pattern=r"^[0-9a-fA-F]{32}$", description="hex MD5 of the uploaded bytes")
    is_private: bool = True
    tags: list[TagIn] = Field(default_factory=list, max_length=50)


class ImageEdit(BaseModel):
    """The body of PATCH /images/{id}: the fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, description="the new name (null: unchanged)")
    is_private: bool | None = Field(default=None, description="false: public (null: unchanged)")
    tags: list[TagIn] | None = Field(
        default=None,
        max_length=50,
        description="replaces every tag of the image; [] removes them (null: unchanged)",
    )


class NotifyRequest(BaseModel):
    """The body of POST /images: up to 5 uploaded images (the batch limit is a setting)."""

    model_config = ConfigDict(extra="forbid")

    # The upper bound is BITIMAGE_NOTIFY_BATCH_MAX, checked by the service; the schema states
    # its default.
    images: list[NotifyImage] = Field(
        min_length=1,
        json_schema_extra={"maxItems": 5},
        description="1 to 5 images (the server's BITIMAGE_NOTIFY_BATCH_MAX, 5 by default)",
    )


class ImageSummary(BaseModel):
    """An image in a list, with a pre-signed view URL that expires."""

    id: uuid.UUID
    name: str
    is_private: bool
    file_format: str
    view_url: str = Field(
        description="pre-signed GET of the original: as uploaded for its owner, without "
        "location or camera metadata for anyone else"
    )
    thumbnail_url: str | None = Field(
        description="pre-signed GET of a WebP, short edge 250 px; null until made"
    )
    preview_url: str | None = Field(
        description="pre-signed GET of a WebP, long edge 1440 px; null until made"
    )
    placeholder: str | None = Field(
        description="ThumbHash (base64, about 25 bytes) to paint before the thumbnail arrives"
    )
    created_at: datetime
    width: int
    height: int
    size_bytes: int = Field(description="the original's size in bytes, as uploaded")
    analysis_status: str


class ConfirmedImages(BaseModel):
    """The answer to POST /images."""

    images: list[ImageSummary]


class SummaryPage(BaseModel):
    """A page of summaries; pass `next_cursor` back as `cursor` for the next one."""

    images: list[ImageSummary]
    next_cursor: str | None


class TagOut(BaseModel):
    """A tag of an image."""

    id: uuid.UUID
    name: str


class LabelOut(BaseModel):
    """A content label found by analysis, with the analyser and model that gave it."""

    id: uuid.UUID
    name: str
    confidence: float
    source: str = Field(
        description="analyser and model, e.g. classifier (efficientnet-lite0@0.1.0)"
    )


class ModerationOut(BaseModel):
    """The explicit-content check (shown to the owner only)."""

    status: str = Field(description="none, flagged (hidden from the public) or cleared")
    explicit_score: float | None = None
    classes: dict[str, float] = Field(default_factory=dict)


class ExpandedImage(BaseModel):
    """Everything about one image."""

    id: uuid.UUID
    name: str
    hash: str
    is_private: bool
    size_mb: float
    size_bytes: int = Field(description="the original's size in bytes, as uploaded")
    file_format: str
    width: int
    height: int
    view_url: str
    thumbnail_url: str | None
    preview_url: str | None
    placeholder: str | None
    created_at: datetime
    analysis_status: str
    tags: list[TagOut]
    labels: list[LabelOut]
    text: str | None = Field(default=None, description="text read in the image (OCR)")
    colours: list[str] = Field(default_factory=list, description="dominant colours")
    exif: dict[str, Any] | None = Field(
        default=None, description="camera, taken-at time, orientation, GPS: the owner only"
    )
    moderation: ModerationOut | None = Field(default=None, description="the owner only")
    analysis_error: str | None = Field(default=None, description="why analysis failed")
