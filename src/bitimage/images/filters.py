"""The query parameters of the two summary routes, declared once as models with their rules."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated

from pydantic import BaseModel, Field

from bitimage.images.summaries import MAX_LIMIT
from bitimage.search.ports import SearchQuery
from bitimage.textrules import PLAIN_TEXT, RULE

_FILTER = f"at most 255 characters; {RULE}"


def _fuzzy(what: str) -> object:
    return Field(max_length=255, pattern=PLAIN_TEXT, description=f"{what}; {_FILTER}")


NameFilter = Annotated[str | None, _fuzzy("fuzzy match on the name")]
TagFilter = Annotated[str | None, _fuzzy("fuzzy match on a tag")]
LabelFilter = Annotated[
    str | None, _fuzzy("fuzzy match on any content label, ranked by its confidence")
]
TextFilter = Annotated[str | None, _fuzzy("fuzzy match on text read in the image (OCR)")]
Confidence = Annotated[
    float | None,
    Field(
        ge=0,
        le=1,
        description="only labels at least this confident (0 to 1); needs content_label (else 400)",
    ),
]
Hash = Annotated[
    str | None,
    Field(pattern=r"^[0-9a-fA-F]{32}$", description="exact hex MD5 of the image's bytes"),
]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"page size, 1 to {MAX_LIMIT}")]
Cursor = Annotated[
    str | None,
    Field(
        max_length=4096,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="next_cursor of the previous page, with the same filters (else 400)",
    ),
]


class SummaryFilters(BaseModel):
    """Filters of everyone's public images (AND), and the page asked for."""

    name: NameFilter = None
    tag: TagFilter = None
    content_label: LabelFilter = None
    min_confidence: Confidence = None
    text: TextFilter = None
    limit: Limit = 100
    cursor: Cursor = None

    def query(self, owner_id: uuid.UUID | None = None) -> SearchQuery:
        """The search these filters ask for: everyone's public images, or `owner_id`'s."""
        return SearchQuery(
            owner_id=owner_id,
            name=self.name,
            tag=self.tag,
            label=self.content_label,
            limit=self.limit,
            cursor=self.cursor,
            text=self.text,
            min_confidence=self.min_confidence,
        )


class PrivateSummaryFilters(SummaryFilters):
    """Filters of the caller's own images: the public ones, and the exact hash."""

    hash: Hash = None

    def query(self, owner_id: uuid.UUID | None = None) -> SearchQuery:
        """The search these filters ask for, the exact hash included."""
        return replace(super().query(owner_id), hash=self.hash)
