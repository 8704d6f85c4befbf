"""The search index port; each database brings its own index-backed implementation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class SearchQuery:
    """Who may be seen (one owner, or everyone's public images) and the filters (AND)."""

    owner_id: uuid.UUID | None
    name: str | None = None
    tag: str | None = None
    label: str | None = None
    hash: str | None = None
    limit: int = 100
    cursor: str | None = None
    text: str | None = None
    min_confidence: float | None = None

    @property
    def has_text_filter(self) -> bool:
        """True when a fuzzy filter is given."""
        return bool(self.name or self.tag or self.label or self.text)


@dataclass(frozen=True)
class SearchPage:
    """Matching image ids, best first, and the cursor of the next page."""

    image_ids: list[uuid.UUID]
    next_cursor: str | None


@dataclass(frozen=True)
class SearchEntry:
    """One image's searchable text: name, tags, label names and the words read in it."""

    image_id: uuid.UUID
    name: str
    tags: Sequence[str]
    labels: Sequence[str] = ()
    text: str = ""


class InvalidCursor(ValueError):
    """A cursor this service did not produce (or from another query)."""


class LabelWords(Protocol):
    """The label words content can be searched by (the analysis feature provides them)."""

    def resolve(self, term: str) -> str | None:
        """The label word `term` means (itself, a synonym's, a typo's nearest), or None."""
        ...


class SearchIndex(Protocol):
    """Keeps searchable text for each image and answers ranked, paged queries."""

    def index(self, session: Session, entries: Sequence[SearchEntry]) -> None:
        """Add or replace these images' searchable text, in a few statements for all of them."""
        ...

    def remove(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Forget these images."""
        ...

    def rescope(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Copy these images' scope (owner, time, visible) again into every search row."""
        ...

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        """The page of image ids matching `query`."""
        ...
