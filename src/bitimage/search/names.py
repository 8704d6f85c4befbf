"""A lone name filter on PostgreSQL: exact names, containing ones, then typo candidates in bands.

The strong score of a name is 2 when it equals the term, else 0 (it contains the term), then
newest first: so the exact names are read first, in scope and newest first, through a btree on
(scope, name, time) that a LIMIT stops after a page; then the names containing the term (and not
equal to it), newest first. For those the planner chooses, by how many names the LIKE matches:
the trigram index (few matches: each is read and sorted), or the scope's names in time order
read from an index that includes the name (many matches: the scan stops after a page). Neither
reads every one of thousands of matching rows, as one statement ordered by score had to.

Its typo candidates come in two bands: the names nearly equal to the term (word similarity at
least CLOSE, few: through the trigram index, most similar first), then the newest names similar
at all (at least MIN_SIMILARITY): either through the trigram index (few) or from the scope's
names in time order, read from the index that includes them, until FUZZY_CANDIDATES are found.
The band below CLOSE is thus the newest similar names, not the most similar: an older name
similar between MIN_SIMILARITY and CLOSE is missed once FUZZY_CANDIDATES newer ones are found.
The trigram index alone would return every row sharing enough trigrams (a camera file name
shares `img` and `jpg` with most names: 160,000 rows at 1M images) to keep the 400 best.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, bindparam, literal, select
from sqlalchemy.orm import Session

from bitimage.search import query as sql
from bitimage.search.name_words import NameWords
from bitimage.search.query import EXACT_WEIGHT, FUZZY_CANDIDATES, SearchDialect, like_pattern
from bitimage.search.ranking import MIN_SIMILARITY, Position

STRONG = 2
CLOSE = 0.7  # the first band of typo candidates: names nearly equal to the term


@functools.lru_cache(maxsize=16)
def _names(rows: FromClause, public: bool, exact: bool, after: bool) -> Select[Any]:
    """The exact (or only containing) names in scope, newest first, after (:c, :i)."""
    # `visible` written bare: the condition of the public partial indexes, as they state it.
    visible: ColumnElement[bool] = rows.c.visible
    where = [visible if public else rows.c.user_id == bindparam("owner")]
    term: ColumnElement[Any] = bindparam("q")
    if exact:
        where.append(rows.c.name == term)
    else:
        where += [rows.c.name.like(bindparam("like")), rows.c.name != term]
    if after:
        where.append(sql.after_position(rows.c.created_at, rows.c.image_id))
    return (
        select(rows.c.image_id, rows.c.created_at)
        .where(*where)
        .order_by(rows.c.created_at.desc(), rows.c.image_id.desc())
        .limit(bindparam("limit"))
    )


@functools.lru_cache(maxsize=16)
def _newest(statement: Select[Any], rows: FromClause) -> Select[Any]:
    """The same candidates, newest first instead of most similar first, read from the index.

    Only the name is scored (the filter is a lone name), so the other texts are left empty:
    the scope's time-ordered index, which includes the name, answers without the table.
    """
    empty = literal("")
    columns = (rows.c.image_id.label("id"), rows.c.created_at, rows.c.name, empty, empty, empty)
    ordered = statement.with_only_columns(*columns).order_by(None)
    return ordered.order_by(rows.c.created_at.desc(), rows.c.image_id.desc())


class NameSearch:
    """Pages of a lone name filter's strong matches, read tier by tier."""

    def __init__(self, dialect: SearchDialect) -> None:
        self.dialect = dialect
        self.words = NameWords()

    def page(
        self,
        session: Session,
        term: str,
        scope: dict[str, Any],
        after: Position | None,
        need: int,
    ) -> list[Position]:
        """Up to `need` strong positions after `after`, best first."""
        public = "owner" not in scope
        params: dict[str, Any] = {**scope, "q": term, "like": like_pattern(term)}
        found: list[Position] = []
        for exact, score in ((True, float(EXACT_WEIGHT)), (False, 0.0)):
            if after is not None and after.score < score:
                continue  # this tier was shown on earlier pages
            cursor = after is not None and after.score == score
            if cursor and after is not None:
                params["c"] = self.dialect.time_value(after.created_at)
                params["i"] = self.dialect.id_value(after.image_id)
            params["limit"] = need - len(found)
            rows = None if exact else self.words.containing(session, term, params, cursor)
            if rows is None:
                statement = _names(self.dialect.scoped, public, exact, cursor)
                rows = list(session.execute(statement, params))
            found += [self.dialect.position(STRONG, score, c, i) for i, c in rows]
            if len(found) >= need:
                break
        return found

    def candidates(
        self,
        session: Session,
        term: str,
        scope: dict[str, Any],
        built: tuple[Select[Any], dict[str, Any]],
        threshold: Callable[[Session, float], None],
    ) -> list[tuple[Any, ...]]:
        """The typo candidates: through the words of the names, else `built`'s, band by band."""
        statement, params = built
        threshold(session, MIN_SIMILARITY)
        by_words = self.words.candidates(session, term, scope)
        if by_words is not None:
            return [(i, c, name, "", "", "") for i, c, name in by_words]
        newest = _newest(statement, self.dialect.scoped)
        found: dict[Any, tuple[Any, ...]] = {}
        for band, ordered in ((CLOSE, statement), (MIN_SIMILARITY, newest)):
            threshold(session, band)
            for row in session.execute(ordered, params):
                found.setdefault(row[0], tuple(row))
            if len(found) >= FUZZY_CANDIDATES:
                break
        return list(found.values())[:FUZZY_CANDIDATES]
