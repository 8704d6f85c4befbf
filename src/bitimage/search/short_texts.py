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

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from bitimage.search.query import EXACT_WEIGHT, SearchDialect, Term, after_position
from bitimage.search.ranking import Position
from bitimage.search.tiered import strong_positions

LONG_TEXT = 2000  # bytes: longer texts are not in the covering index (a btree entry's limit)
SHORT = 3  # a term shorter than a trigram


@functools.lru_cache(maxsize=4)
def _statement(dialect: SearchDialect, form: str, after: bool) -> Select[Any]:
    """The public texts containing the term (a filter of this form), best first, after
    (:s, :c, :i): the strong tier's score and order (search/query.py), over two indexes."""
    rows = dialect.scoped
    weight: ColumnElement[Any] = literal_column(str(EXACT_WEIGHT))
    score = (weight * dialect.exact("text")).label("score")
    # A literal, as the partial indexes state it (0019): the planner proves each from it.
    size: ColumnElement[Any] = func.octet_length(rows.c.text)
    limit: ColumnElement[Any] = literal_column(str(LONG_TEXT))
    texts = [
        select(rows.c.image_id, rows.c.created_at, score).where(
            rows.c.visible, dialect.predicate(form, "text"), bounded
        )
        for bounded in (size <= limit, size > limit)
    ]
    found = texts[0].union_all(texts[1]).subquery("m")
    statement = select(found.c.image_id.label("id"), found.c.created_at, found.c.score)
    if after:
        above: Any = bindparam("s", type_=Float())  # a score is not an integer
        newer = after_position(found.c.created_at, found.c.image_id)
        statement = statement.where(or_(found.c.score < above, and_(found.c.score == above, newer)))
    return statement.order_by(
        found.c.score.desc(), found.c.created_at.desc(), found.c.image_id.desc()
    ).limit(bindparam("limit"))


def wanted(public: bool, hashed: bool, filters: dict[str, str]) -> bool:
    """A lone text filter of fewer than three characters in the public scope."""
    return public and not hashed and set(filters) == {"text"} and len(filters["text"]) < SHORT


def page(
    session: Session, dialect: SearchDialect, written: Term, limit: int, after: Position | None
) -> list[Position]:
    """The strong tier's rows of the text filter as the dialect writes it (`contains`)."""
    bound: dict[str, Any] = {**written.params, "limit": limit}
    if after is not None:
        bound |= {
            "s": after.score,
            "c": dialect.time_value(after.created_at),
            "i": dialect.id_value(after.image_id),
        }
    statement = _statement(dialect, written.form, after is not None)
    return strong_positions(dialect, session.execute(statement, bound))
