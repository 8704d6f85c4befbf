"""A lone text term too short for a trigram (`no`), public scope, on PostgreSQL (migration 0019).

pg_trgm takes no trigram from a term of one or two characters, so the public trigram index of
texts was read whole, then every text's heap page: 52 ms for `no` at 1,000,000 images (20,000
public texts, 13,000 pages), the public `text word` kind's slowest query. Instead the public
texts are read from a btree that includes them: an index-only scan, 5 ms for the same rows.

A btree entry holds at most about 2,700 bytes, so that index leaves out texts longer than
LONG_TEXT bytes (a page of a document): those are read through a second index of such rows
alone, few, in the same statement. Scored, paged and ordered as every strong tier (search/
query.py): a line equal to the term first, then newest.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from bitimage.search.query import EXACT_WEIGHT, SearchDialect
from bitimage.search.ranking import Position
from bitimage.search.tiered import strong_positions

LONG_TEXT = 2000  # bytes: longer texts are not in the covering index (a btree entry's limit)
SHORT = 3  # a term shorter than a trigram

_SCORED = (
    f"SELECT s.image_id, s.created_at, {EXACT_WEIGHT} * (strpos(s.text, :framed_text) > 0)::int "  # noqa: S608
    "AS score FROM image_search s WHERE s.visible AND s.text LIKE :like_text AND "
)


@functools.lru_cache(maxsize=2)
def _statement(after: bool) -> TextClause:
    """The public texts containing the term, best first, after (:s, :c, :i)."""
    # Both conditions as the partial indexes state them (0019), so the planner proves each.
    texts = f"{_SCORED}s.text <> '' AND octet_length(s.text) <= {LONG_TEXT}"
    long_texts = f"{_SCORED}octet_length(s.text) > {LONG_TEXT}"
    below = (
        " WHERE m.score < :s OR (m.score = :s AND (m.created_at < :c OR "
        "(m.created_at = :c AND m.image_id < :i)))"
        if after
        else ""
    )
    return text(
        f"SELECT m.image_id, m.created_at, m.score FROM ({texts} UNION ALL {long_texts}) m"  # noqa: S608 - fixed
        f"{below} ORDER BY m.score DESC, m.created_at DESC, m.image_id DESC LIMIT :limit"
    )


def wanted(public: bool, hashed: bool, filters: dict[str, str]) -> bool:
    """A lone text filter of fewer than three characters in the public scope."""
    return public and not hashed and set(filters) == {"text"} and len(filters["text"]) < SHORT


def page(
    session: Session,
    dialect: SearchDialect,
    params: dict[str, Any],
    after: Position | None,
) -> list[Position]:
    """The strong tier's rows; `params` binds :like_text, :framed_text and :limit."""
    bound = dict(params)
    if after is not None:
        bound |= {
            "s": after.score,
            "c": dialect.time_value(after.created_at),
            "i": dialect.id_value(after.image_id),
        }
    return strong_positions(dialect, session.execute(_statement(after is not None), bound))
