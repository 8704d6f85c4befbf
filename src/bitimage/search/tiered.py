"""What every SQL search index shares: the two tiers, scoping, paging and fuzzy re-ranking.

Results come in two tiers. Strong matches (every filter equals or contains its query) are
found and paged entirely in SQL through the index, exact matches first, then newest. Fuzzy
matches (a filter is similar to its query) are drawn from the index's best
`FUZZY_CANDIDATES` and ranked by `ranking.best_score`, then newest, identically on every
database. Subclasses bring the index-backed SQL of their dialect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from bitimage.search.ports import SearchPage, SearchQuery
from bitimage.search.ranking import (
    Position,
    best_score,
    decode_cursor,
    encode_cursor,
    normalise,
)

FUZZY_CANDIDATES = 400
SEPARATOR = "\n"  # between an image's tags: no query contains it, so no match spans two
Candidate = tuple[Any, Any, str, str, str]  # image id, created_at, name, tags, labels


def like_pattern(term: str) -> str:
    """A LIKE pattern (escape character backslash) matching values that contain `term`."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def query_filters(query: SearchQuery) -> dict[str, str]:
    """The query's non-empty fuzzy filters, normalised, by field name."""
    given = (("name", query.name), ("tag", query.tag), ("label", query.label))
    return {field: normalise(value) for field, value in given if value and normalise(value)}


class TieredSearchIndex:
    """search() for SQL indexes; subclasses implement the three queries."""

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        """One page of matching image ids, best first."""
        after = decode_cursor(query)
        filters = query_filters(query)
        if not filters:
            rows = self._unfiltered(session, query, after)
        else:
            rows = []
            if after is None or after.tier == 2:
                rows = self._strong(session, query, filters, after)
            if len(rows) <= query.limit:
                fuzzy_after = after if after is not None and after.tier == 1 else None
                candidates = self._fuzzy_candidates(session, query, filters)
                rows += self._rank_fuzzy(
                    candidates, filters, fuzzy_after, query.limit + 1 - len(rows)
                )
        page = rows[: query.limit]
        cursor = encode_cursor(query, page[-1]) if len(rows) > query.limit else None
        return SearchPage([uuid.UUID(hex=p.image_id) for p in page], cursor)

    def _unfiltered(
        self, session: Session, query: SearchQuery, after: Position | None
    ) -> list[Position]:
        raise NotImplementedError

    def _strong(
        self, session: Session, query: SearchQuery, filters: dict[str, str], after: Position | None
    ) -> list[Position]:
        raise NotImplementedError

    def _fuzzy_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> Iterable[Candidate]:
        raise NotImplementedError

    def _position(self, tier: int, score: float, created_at: Any, image_id: Any) -> Position:
        """A result row as a cursor position (ids and times as the dialect returns them)."""
        return Position(tier, score, str(created_at), str(image_id))

    def _rank_fuzzy(
        self,
        candidates: Iterable[Candidate],
        filters: dict[str, str],
        after: Position | None,
        wanted: int,
    ) -> list[Position]:
        found = []
        for image_id, created_at, name, tags, labels in candidates:
            values = {
                "name": [name],
                "tag": tags.strip(SEPARATOR).split(SEPARATOR),
                "label": labels.strip(SEPARATOR).split(SEPARATOR),
            }
            scores = [best_score(term, values[field]) for field, term in filters.items()]
            strong = all(
                any(term in normalise(v) for v in values[field]) for field, term in filters.items()
            )
            if strong or min(scores) == 0.0:  # strong matches were listed by _strong
                continue
            found.append(self._position(1, round(sum(scores), 6), created_at, image_id))
        found.sort(key=Position.sort_key, reverse=True)
        if after is not None:
            found = [p for p in found if p.sort_key() < after.sort_key()]
        return found[:wanted]
