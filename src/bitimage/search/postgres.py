"""PostgresSearchIndex: pg_trgm GIN indexes answer substring and typo-tolerant queries.

Each image has one row of normalised text (name, tags and labels, lower-case; tags and
labels framed by newlines so an exact tag is a plain substring test). Strong matches are
LIKE '%term%' through the trigram indexes; fuzzy candidates are the rows whose text has a
word similar to every filter (`term <% column`, index-backed), best word similarity first.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    table,
    text,
)
from sqlalchemy.orm import Session

from bitimage.search import postings, short_texts
from bitimage.search import query as sql
from bitimage.search.name_words import WORDS_SQL
from bitimage.search.names import NameSearch
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.postings import Postings
from bitimage.search.query import COLUMNS, IMAGES, SEPARATOR, ZERO, Term, like_pattern
from bitimage.search.ranking import MIN_SIMILARITY, Position, normalise
from bitimage.search.scope import forget_postings, scope_table
from bitimage.search.tiered import TieredSearchIndex

_SEARCH = table(
    "image_search", column("image_id"), column("name"), column("tags"), column("labels"),
    column("text"), column("user_id"), column("created_at"), column("visible"),
).alias("s")  # fmt: skip
LIKE, SIMILAR = "like", "similar"

# Built once: index() runs in the notify transaction, which holds the users' row locks.
# The scope comes from the image's row, as rescope() copies it (search/scope.py).
_UPSERT = text(
    "INSERT INTO image_search (image_id, user_id, created_at, visible, name, tags, labels, text) "
    "SELECT i.id, i.user_id, i.created_at, NOT i.is_private AND i.moderation <> 'flagged', "
    ":n, :t, :l, :x FROM images i WHERE i.id = :i ON CONFLICT (image_id) DO UPDATE SET "
    "user_id = excluded.user_id, created_at = excluded.created_at, visible = excluded.visible, "
    "name = excluded.name, tags = excluded.tags, labels = excluded.labels, text = excluded.text"
)
_REMOVE = text("DELETE FROM image_search WHERE image_id = ANY(:ids)")  # postings cascade
# The names' words (search/name_words.py) follow the rows just written, scope included. New
# words go in sorted, so two writers of the same new words wait for each other in one order.
_WORDS = [
    text("DELETE FROM image_search_postings WHERE image_id = ANY(:ids)"),
    text(
        "INSERT INTO image_search_words (word) "  # noqa: S608 - fixed names
        f"SELECT DISTINCT w FROM image_search s, {WORDS_SQL} w "
        "WHERE s.image_id = ANY(:ids) AND w <> '' ORDER BY w ON CONFLICT DO NOTHING"
    ),
    text(
        "INSERT INTO image_search_postings (image_id, word, user_id, created_at, visible) "  # noqa: S608 - fixed names
        f"SELECT DISTINCT s.image_id, w, s.user_id, s.created_at, s.visible FROM image_search s, "
        f"{WORDS_SQL} w WHERE s.image_id = ANY(:ids) AND w <> ''"
    ),
]
# The operator `<%` compares with this threshold; the ranking's own floor is the same.
_THRESHOLD = text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)")


def _threshold(session: Session, value: float) -> None:
    """Sets the `<%` threshold for this transaction."""
    session.execute(_THRESHOLD, {"t": str(value)})


# The planner counts `<%` as one cheap operator, where word_similarity takes about 2 us a
# name for a term of two words: it read all 10,000 tags (23 ms at 1M images) rather than
# the trigram index (0.5 ms). A vocabulary is read through its index, the seq scan off for
# that statement only (RESET: the session's own setting again).
_INDEXED = text(
    "SELECT set_config('pg_trgm.word_similarity_threshold', :t, true), "
    "set_config('enable_seqscan', 'off', true)"
)
_SEQSCAN_AGAIN = text("RESET enable_seqscan")


@functools.lru_cache(maxsize=4)
def _similar(kind: Postings) -> Select[Any]:
    name: ColumnElement[Any] = kind.vocabulary.c.name
    term: ColumnElement[Any] = bindparam("q")
    predicate = term.op("<%", is_comparison=True)(name)
    return postings.similar(kind, predicate, func.word_similarity(term, name).desc())


def _framed(values: Sequence[str]) -> str:
    return SEPARATOR + SEPARATOR.join(normalise(v) for v in values) + SEPARATOR


class PostgresSearchSql:
    """pg_trgm's fragments: LIKE and `<%` on normalised, newline-framed text."""

    search = _SEARCH
    ranks_by_index = False  # candidates by word similarity, computed in the query
    text_index: ColumnElement[bool] | None = None  # every filter is a predicate
    scoped = _SEARCH  # the search rows carry the scope: no join with images
    _hashed = _SEARCH.join(IMAGES, IMAGES.c.id == _SEARCH.c.image_id)

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """The search rows; joined with their images to filter by hash."""
        return self._hashed if hashed else _SEARCH

    def contains(self, field: str, term: str) -> Term:
        """LIKE through the trigram index (text is stored normalised)."""
        params: dict[str, Any] = {f"like_{field}": like_pattern(term)}
        if field == "name":
            params["q_name"] = term
        else:
            params[f"framed_{field}"] = SEPARATOR + term + SEPARATOR
        return Term(LIKE, params)

    def similar(self, field: str, term: str) -> Term:
        """A word similar to the term (`term <% column`, through the trigram index)."""
        return Term(SIMILAR, {f"q_{field}": term})

    def predicate(self, form: str, field: str) -> ColumnElement[bool]:
        """LIKE (backslash escapes by default) or word similarity over the threshold."""
        value = _SEARCH.c[COLUMNS[field]]
        if form == LIKE:
            found = value.like(bindparam(f"like_{field}"))
        else:
            assert form == SIMILAR, form
            found = bindparam(f"q_{field}").op("<%", is_comparison=True)(value)
        if field == "text":  # the text indexes' condition (0016), written as they state it
            return and_(value != literal_column("''"), found)
        return found

    def exact(self, field: str) -> ColumnElement[Any]:
        """The name equals the term, or the framed text holds it as a whole line."""
        value = _SEARCH.c[COLUMNS[field]]
        if field == "name":
            return cast(value == bindparam("q_name"), Integer)
        return cast(func.strpos(value, bindparam(f"framed_{field}")) > ZERO, Integer)

    def candidate_order(self, fields: Sequence[str]) -> ColumnElement[Any]:
        """The sum of the filters' word similarities, best first."""
        similarity: list[ColumnElement[Any]] = [
            func.word_similarity(bindparam(f"q_{field}"), _SEARCH.c[COLUMNS[field]])
            for field in fields
        ]
        return functools.reduce(operator.add, similarity).desc()

    def id_value(self, image_id: str) -> Any:
        """Ids are uuids."""
        return uuid.UUID(image_id)

    def time_value(self, moment: str) -> Any:
        """A cursor's time back as an aware datetime."""
        return datetime.fromisoformat(moment)

    def position(self, tier: int, score: float, created_at: Any, image_id: Any) -> Position:
        """One fixed text form, so cursor times compare as strings and parse back exactly."""
        moment = created_at.astimezone(UTC).isoformat(timespec="microseconds")
        # psycopg gives a uuid.UUID already: parsing it again cost ~2 µs a row (fuzzy tiers read
        # hundreds of rows a page).
        key = image_id.hex if isinstance(image_id, uuid.UUID) else uuid.UUID(str(image_id)).hex
        return Position(tier, score, moment, key)


POSTGRESQL = PostgresSearchSql()


class PostgresSearchIndex(TieredSearchIndex):
    """Search through the image_search table and its GIN trigram indexes."""

    dialect = POSTGRESQL
    scope_rows = scope_table("image_search")
    word_rows = (scope_table("image_search_postings"),)  # the names' words (name_words.py)
    lateral = True
    hashes = True

    def index(self, session: Session, entries: Sequence[SearchEntry]) -> None:
        """Add or replace these images' rows (one upsert, executed for the whole batch)."""
        if not entries:
            return
        session.flush()  # the scope is read from the images' rows
        session.execute(
            _UPSERT,
            [
                {
                    "i": entry.image_id,
                    "n": normalise(entry.name),
                    "t": _framed(entry.tags),
                    "l": _framed(entry.labels),
                    "x": _framed(entry.text.split(SEPARATOR)) if entry.text else "",
                }
                for entry in entries
            ],
        )
        ids = [entry.image_id for entry in entries]
        for statement in _WORDS:
            session.execute(statement, {"ids": ids})

    def remove(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Drop these images' rows and their tag and label postings from the index."""
        if image_ids:
            session.execute(_REMOVE, {"ids": list(image_ids)})
            forget_postings(session, list(image_ids))

    @functools.cached_property
    def _names(self) -> NameSearch:
        return NameSearch(self.dialect)

    def _strong(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        after: Position | None,
        exact_label: bool,
    ) -> list[Position]:
        """A lone name filter: exact names, then containing ones, each tier newest first.

        A lone public text term too short for a trigram: the public texts' covering index.
        """
        if short_texts.wanted(query.owner_id is None, bool(query.hash), filters):
            written = self.dialect.contains("text", filters["text"])
            return short_texts.page(session, self.dialect, written, query.limit + 1, after)
        if set(filters) != {"name"} or query.hash:
            return super()._strong(session, query, filters, after, exact_label)
        scope = self._posting_scope(query)
        return self._names.page(session, filters["name"], scope, after, query.limit + 1)

    def _fuzzy_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> list[tuple[Any, ...]]:
        """A lone name's typo candidates in two bands (search/names.py); else as every index."""
        if set(filters) != {"name"} or query.hash:
            return super()._fuzzy_candidates(session, query, filters)
        built = sql.fuzzy(self.dialect, query, filters)
        if built is None:
            return []
        scope = self._posting_scope(query)
        return self._names.candidates(session, filters["name"], scope, built, _threshold)

    def _similar_names(self, session: Session, kind: Postings, term: str) -> list[tuple[Any, str]]:
        """Names with a word similar to the term, by word similarity (trigram index)."""
        session.execute(_INDEXED, {"t": str(MIN_SIMILARITY)})
        found = [tuple(row) for row in session.execute(_similar(kind), {"q": term})]
        session.execute(_SEQSCAN_AGAIN)
        return found

    def _before_fuzzy(self, session: Session) -> None:
        """Sets the `<%` threshold for this transaction."""
        _threshold(session, MIN_SIMILARITY)
