"""Query parameters and answers of the duplicate routes (issue 15)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bitimage.images.perceptual import MAX_DISTANCE
from bitimage.images.schemas import ImageSummary

MaxDistance = Annotated[
    int | None,
    Field(
        ge=0,
        le=MAX_DISTANCE,
        description=f"largest dHash Hamming distance (of 64 bits) that counts, 0 to "
        f"{MAX_DISTANCE}; 0: only the same picture; default: BITIMAGE_NEAR_DUPLICATE_DISTANCE",
    ),
]


class SimilarQuery(BaseModel):
    """The query of GET /images/{id}/similar."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["duplicate", "visual"] = Field(
        default="duplicate", description="duplicate: the same picture, resized, re-encoded or"
        " lightly edited (same bytes or a close perceptual hash); visual: the most visually"
        " similar images by the classifier's embedding, nearest first (max_distance is not used)"
    )  # fmt: skip
    limit: int = Field(default=20, ge=1, le=100, description="at most this many, 1 to 100")
    max_distance: MaxDistance = None


class DuplicatesQuery(BaseModel):
    """The query of GET /images/duplicates."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=100_000, description="1 for the first page")
    per_page: int = Field(default=20, ge=1, le=100, description="groups a page, 1 to 100")
    max_distance: MaxDistance = None


class SimilarImage(BaseModel):
    """An image like another: how far apart their hashes are, or how similar they look."""

    image: ImageSummary
    distance: int | None = Field(
        description="dHash Hamming distance, 0 to 64; null when either is not analysed yet"
        " (and for kind=visual)"
    )
    exact: bool = Field(description="the same bytes (MD5)")
    similarity: float | None = Field(
        default=None,
        description="kind=visual: cosine similarity of the embeddings, -1 to 1 (1: alike)",
    )


class SimilarImages(BaseModel):
    """The answer to GET /images/{id}/similar: nearest first, then oldest."""

    image_id: uuid.UUID
    kind: Literal["duplicate", "visual"]
    max_distance: int | None = Field(description="the dHash reach used; null for kind=visual")
    images: list[SimilarImage]


class DuplicateGroup(BaseModel):
    """Images of one picture: the oldest first; distances and `exact` are from it."""

    images: list[SimilarImage]


class DuplicatePage(BaseModel):
    """A page of duplicate groups, largest first; `next_page` is null on the last."""

    groups: list[DuplicateGroup]
    total_groups: int
    max_distance: int
    next_page: int | None


DHash = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{16}$",
        description="a 64-bit dHash as 16 hex digits, computed as the server's analysis does"
        " (bitimage.dhash)",
    ),
]


class HashLookupQuery(BaseModel):
    """The query of GET /images/duplicates/lookup."""

    model_config = ConfigDict(extra="forbid")

    dhash: list[DHash] = Field(
        min_length=1, max_length=100, description="1 to 100 hashes: repeat ?dhash=..&dhash=.."
    )
    limit: int = Field(default=5, ge=1, le=100, description="at most this many a hash, 1 to 100")
    max_distance: MaxDistance = None


class NearImage(BaseModel):
    """One of the caller's images whose dHash is near the one asked about."""

    image: ImageSummary
    distance: int = Field(description="dHash Hamming distance, 0 to the reach used")


class HashMatches(BaseModel):
    """The caller's images near one hash: nearest first, then oldest."""

    dhash: str = Field(description="the hash asked about, lower case")
    images: list[NearImage]


class HashLookup(BaseModel):
    """The answer to GET /images/duplicates/lookup: one entry a hash, in the order asked."""

    max_distance: int
    matches: list[HashMatches]
