"""How well a value matches a query, and opaque cursors; shared by every search backend.

A match is, best first: the value equals the query, contains it, or is similar to it: the
trigrams of both (padded at the ends, as pg_trgm does) overlap by at least MIN_SIMILARITY, or
the value holds at least MIN_SHARED_TRIGRAMS of the query's own trigrams (a typo'd word inside
a longer name). Case is ignored.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from bitimage.search.ports import InvalidCursor, SearchQuery

EXACT = 1.0
SUBSTRING = 0.9
FUZZY_WEIGHT = 0.8
MIN_SHARED_TRIGRAMS = 0.5
MIN_SIMILARITY = 0.3


def normalise(text: str) -> str:
    """The form values and queries are compared in."""
    return " ".join(text.lower().split())


def trigrams(text: str) -> set[str]:
    """The set of three-character substrings of `text`."""
    return {text[i : i + 3] for i in range(len(text) - 2)}


@functools.lru_cache(maxsize=1024)
def _query_trigrams(query: str) -> tuple[frozenset[str], frozenset[str]]:
    """A query's padded trigrams and its own: computed once per query, not once per value."""
    return frozenset(trigrams(f"  {query} ")), frozenset(trigrams(query))


# Typo candidates repeat the same tags and labels: each pair is scored once (a pure function).
@functools.lru_cache(maxsize=65536)
def value_score(query: str, value: str) -> float:
    """How well one value matches a normalised query: 0 when it does not."""
    value = normalise(value)
    if query == value:
        return EXACT
    if query in value:
        return SUBSTRING
    padded_query, wanted = _query_trigrams(query)
    padded = f"  {value} "
    # A trigram is one of a text's exactly when it is a substring of it: the query's trigrams
    # are counted in the value without building the value's set, which took most of the time
    # of scoring a typo candidate (400 of them a search).
    shared = len([gram for gram in padded_query if gram in padded])
    contained = len([gram for gram in wanted if gram in value]) / len(wanted) if wanted else 0.0
    # The overlap is at most shared / len(padded_query) (the value has `shared` trigrams at
    # least): when that cannot beat `contained`, or reach MIN_SIMILARITY, it is not computed.
    bound, held = shared / len(padded_query), contained >= MIN_SHARED_TRIGRAMS
    if held and bound <= contained:
        return FUZZY_WEIGHT * contained
    if not held and bound < MIN_SIMILARITY:
        return 0.0
    similarity = shared / (len(padded_query) + len(trigrams(padded)) - shared)
    if held:
        similarity = max(similarity, contained)
    return FUZZY_WEIGHT * similarity if similarity >= MIN_SIMILARITY else 0.0


def best_score(query: str, values: Iterable[str]) -> float:
    """The best score of any of the values (an image's tags, say)."""
    return max((value_score(query, value) for value in values), default=0.0)


@dataclass(frozen=True)
class Position:
    """Where a page ended: tier (2 strong, 1 fuzzy, 0 unfiltered), score, time, id."""

    tier: int
    score: float
    created_at: str
    image_id: str

    def sort_key(self) -> tuple[int, float, str, str]:
        """Descending order of results is ascending order of the negated key."""
        return (self.tier, self.score, self.created_at, self.image_id)


def query_fingerprint(query: SearchQuery) -> str:
    """A short digest of the query's scope and filters, so a cursor only fits its own query."""
    parts = [
        str(query.owner_id),
        query.name,
        query.tag,
        query.label,
        query.hash,
        query.text,
        query.min_confidence,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def encode_cursor(query: SearchQuery, position: Position) -> str:
    """An opaque cursor for the page after `position`."""
    raw = [
        query_fingerprint(query),
        position.tier,
        position.score,
        position.created_at,
        position.image_id,
    ]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> Position | None:
    """The position in the query's cursor, or None for the first page."""
    if not query.cursor:
        return None
    try:
        padded = query.cursor + "=" * (-len(query.cursor) % 4)
        fingerprint, tier, score, created_at, image_id = json.loads(
            base64.urlsafe_b64decode(padded)
        )
        position = Position(int(tier), float(score), str(created_at), str(image_id))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("the cursor is malformed") from exc
    if fingerprint != query_fingerprint(query):
        raise InvalidCursor("the cursor belongs to another query")
    return position
