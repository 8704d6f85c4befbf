"""SqliteSearchIndex: an FTS5 trigram index answers substring and typo-tolerant queries.

Strong matches use FTS5 phrase queries (LIKE for terms under three characters); fuzzy
candidates are the images sharing trigrams with every filter, best bm25 first.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    String,
    TextClause,
    bindparam,
    column,
    func,
    literal_column,
    table,
    text,
    type_coerce,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

from bitimage.search import query as sql
from bitimage.search import sqlite_owned as owned
from bitimage.search.ports import LabelWords, SearchEntry, SearchQuery
from bitimage.search.postings import VOCABULARY_CANDIDATES, Postings, Vocabulary
from bitimage.search.query import COLUMNS, IMAGES, MATCH, SEPARATOR, ZERO, Term, like_pattern
from bitimage.search.ranking import Position, trigrams
from bitimage.search.scope import forget_postings, rescope, rescope_statement, scope_table
from bitimage.search.sqlite_grams import fragment, phrase, typo_fragment
from bitimage.search.tiered import Candidate, TieredSearchIndex, strong_positions

_SEARCH = table(
    "image_search",
    column("rowid"),
    column("name"),
    column("tags"),
    column("labels"),
    column("text"),
    column("rank"),
    column("image_search"),  # the FTS5 table's own column: the left side of MATCH
).alias("s")
_ROWS = table(
    "image_search_rows", column("rowid"), column("image_id"), column("user_id"),
    column("created_at"), column("visible"), column("name"),
)  # fmt: skip
_NEWLINE = literal_column("char(10)", String)
LIKE = "like"
COUNTS_SECONDS = 60.0  # how long an owner's image count routes their private searches
MAX_COUNTS = 10_000  # owners' counts kept, at most

# Built once: index() runs in the notify transaction, under the database's write lock.
_ROWIDS = text("SELECT image_id, rowid FROM image_search_rows WHERE image_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_DELETE_TEXT = text("DELETE FROM image_search WHERE rowid IN :rows").bindparams(
    bindparam("rows", expanding=True)
)
_INSERT_TEXT = text(
    "INSERT INTO image_search (rowid, name, tags, labels, text) VALUES (:r, :n, :t, :l, :x)"
)
# The name again beside the owner (migration 0015): an owner's names read from one index.
_NAME_ROWS = text("UPDATE image_search_rows SET name = :n WHERE rowid = :r")
_REMOVE_TEXT = text(
    "DELETE FROM image_search WHERE rowid IN "
    "(SELECT rowid FROM image_search_rows WHERE image_id IN :ids)"
).bindparams(bindparam("ids", expanding=True))
_REMOVE_ROWS = text("DELETE FROM image_search_rows WHERE image_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_SCOPE_ROWS = scope_table("image_search_rows")
_RESCOPE_ROWS = rescope_statement(_SCOPE_ROWS)

# One row's claim, executed for the whole batch: SQLAlchemy sends it as multi-row VALUES.
_CLAIM_ROWS = (
    insert(_ROWS)
    .values(image_id=bindparam("i"))
    .on_conflict_do_nothing(index_elements=["image_id"])
    .returning(_ROWS.c.image_id, _ROWS.c.rowid)
)


@functools.lru_cache(maxsize=4)
def _similar(vocabulary: str) -> TextClause:
    """The vocabulary's names holding any of the term's trigrams (:q), best bm25 first."""
    grams = f"{vocabulary}_grams"  # migration 0017: a trigram FTS5 table per vocabulary
    return text(
        f"SELECT id, name FROM {grams} WHERE {grams} MATCH :q "  # noqa: S608 - fixed names
        f"ORDER BY rank LIMIT {VOCABULARY_CANDIDATES}"
    )


class SqliteSearchSql(owned.SqliteValues):
    """FTS5's fragments: filters of three letters or more are phrases of one MATCH query."""

    search = _SEARCH
    ranks_by_index = True  # candidates in bm25 order
    text_index: ColumnElement[bool] | None = _SEARCH.c.image_search.match(bindparam("match"))
    scoped = _ROWS  # the rowid table carries the scope (an FTS5 table takes no index)
    _by_index = _SEARCH.join(_ROWS, _ROWS.c.rowid == _SEARCH.c.rowid)
    # No index condition on the text: start from the scoped rows (and their labels).
    _by_rows = _ROWS.join(_SEARCH, _SEARCH.c.rowid == _ROWS.c.rowid)

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """The search rows, from the FTS5 table when it is queried; images to filter by hash."""
        rows = self._by_index if by_index else self._by_rows
        return rows.join(IMAGES, IMAGES.c.id == _ROWS.c.image_id) if hashed else rows

    def contains(self, field: str, term: str) -> Term:
        """A phrase of the MATCH query; LIKE for terms under three characters (no trigram)."""
        if field == "name":
            params: dict[str, Any] = {"q_name": term}
        else:
            params = {f"framed_{field}": SEPARATOR + term + SEPARATOR}
        if len(term) >= 3:
            return Term(MATCH, params, f"{COLUMNS[field]} : {phrase(term)}")
        return Term(LIKE, params | {f"like_{field}": like_pattern(term)})

    def similar(self, field: str, term: str) -> Term:
        """Any of (at most 4 of) the term's trigrams; a term too short for typos is contained."""
        grams = sorted(owned.spread(term))
        if grams:
            return Term(MATCH, fragment=fragment(field, grams))
        return Term(LIKE, {f"like_{field}": like_pattern(term)})

    def predicate(self, form: str, field: str) -> ColumnElement[bool]:
        """LIKE on the lower-cased text (FTS5 keeps it as written)."""
        assert form == LIKE, form
        value = func.lower(_SEARCH.c[COLUMNS[field]])
        return value.like(bindparam(f"like_{field}"), escape="\\")

    def exact(self, field: str) -> ColumnElement[Any]:
        """The lower-cased name equals the term, or a newline-framed line is the term."""
        if field == "name":  # from the scoped row, already read: not FTS5's column (0015)
            return type_coerce(func.lower(_ROWS.c.name) == bindparam("q_name"), Integer)
        value = func.lower(_SEARCH.c[COLUMNS[field]])
        lines = _NEWLINE.concat(value).concat(_NEWLINE)
        return type_coerce(func.instr(lines, bindparam(f"framed_{field}")) > ZERO, Integer)

    def candidate_order(self, fields: Sequence[str]) -> ColumnElement[Any]:
        """bm25 over the trigram query."""
        return _SEARCH.c.rank


SQLITE = SqliteSearchSql()


class SqliteSearchIndex(TieredSearchIndex):
    """Search through an FTS5 table with the trigram tokenizer (SQLite 3.34 and later)."""

    dialect = SQLITE
    scope_rows = _SCOPE_ROWS

    def __init__(
        self, label_words: LabelWords | None = None, owner_scan: int = owned.OWNER_SCAN
    ) -> None:
        super().__init__(label_words)
        self.owner_scan = owner_scan  # owners with more images are searched through FTS5
        # Owners' counts, kept COUNTS_SECONDS: counting 30,001 index entries took 2.5 ms of
        # each search of an owner with 100,000 images. A count only routes a search (both
        # ways give the same results), so one a minute old does no harm.
        self.counts: dict[tuple[str, int], tuple[float, int]] = {}
        self.clock = time.monotonic

    def index(self, session: Session, entries: Sequence[SearchEntry]) -> None:
        """Add or replace these images' rows: three statements for a whole batch."""
        if not entries:
            return
        hexes = [entry.image_id.hex for entry in entries]
        # Returns the rowid of each image not indexed before.
        inserted = session.execute(_CLAIM_ROWS, [{"i": h} for h in hexes])
        rescope(session, [_RESCOPE_ROWS], hexes)  # the scope, from the images' rows
        rowids: dict[str, int] = dict(inserted.all())  # dict(result) would call its keys()
        indexed = [h for h in hexes if h not in rowids]
        if indexed:  # indexed before: their text is replaced in place
            rowids.update(session.execute(_ROWIDS, {"ids": indexed}).all())
            session.execute(_DELETE_TEXT, {"rows": [rowids[h] for h in indexed]})
        session.execute(
            _INSERT_TEXT,
            [
                {
                    "r": rowids[entry.image_id.hex],
                    "n": entry.name,
                    "t": SEPARATOR.join(entry.tags),
                    "l": SEPARATOR.join(entry.labels),
                    "x": entry.text,
                }
                for entry in entries
            ],
        )
        named = [{"r": rowids[entry.image_id.hex], "n": entry.name} for entry in entries]
        session.execute(_NAME_ROWS, named)

    def _owned(self, session: Session, query: SearchQuery) -> bool:
        """A private query of an owner under the crossover: read the owner's rows, not FTS5."""
        if query.owner_id is None or query.hash:
            return False
        owner = query.owner_id.hex
        now, key = self.clock(), (owner, self.owner_scan)
        kept = self.counts.get(key)
        if kept is None or now - kept[0] >= COUNTS_SECONDS:
            if len(self.counts) >= MAX_COUNTS:
                self.counts.clear()  # a bound on memory; the next searches count again
            params = {"owner": owner, "cap": self.owner_scan + 1}
            kept = (now, session.execute(owned.OWNER_COUNT, params).scalar_one())
            self.counts[key] = kept  # threads racing here store equal counts
        return bool(kept[1] <= self.owner_scan)

    def _strong(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        after: Position | None,
        exact_label: bool,
    ) -> list[Position]:
        # No filter has a trigram for FTS5 to look up: every row in scope is read.
        unindexed = not query.hash and all(len(term) < 3 for term in filters.values())
        name = set(filters) == {"name"}
        if self._owned(session, query) or (unindexed and name and query.owner_id is not None):
            dialect = owned.OWNED_NAME if name else owned.OWNED  # a name: the owner's index
        elif unindexed:
            dialect = owned.SCANNED  # FTS5's content, in order
        else:
            return super()._strong(session, query, filters, after, exact_label)
        statement, params = sql.strong(dialect, query, filters, after, exact_label)
        return strong_positions(dialect, session.execute(statement, params))

    def _strong_postings(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        after: Position | None,
        exact_label: bool,
        read: Vocabulary | None = None,
    ) -> list[Position]:
        owner = query.owner_id.hex if query.owner_id else ""
        if not self._owned(session, query) or not owned.few_tagged(session, owner, filters["tag"]):
            return super()._strong_postings(session, query, filters, after, exact_label, read)
        params = sql.strong(owned.OWNED, query, filters, after, exact_label)[1]
        rows = session.execute(owned.tag_and_label(after is not None), params)
        return strong_positions(owned.OWNED, rows)

    def _fuzzy_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> list[Candidate]:
        if not self._owned(session, query):
            return self._fts_candidates(session, query, filters)
        shape, params = owned.candidate_params(filters)
        statement = owned.candidates(shape)
        params["owner"] = query.owner_id.hex if query.owner_id else None
        return [tuple(row) for row in session.execute(statement, params)]

    def _fts_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> list[Candidate]:
        """FTS5's typo query; a long term ORs its rarest trigrams (search/sqlite_grams.py)."""
        built = sql.fuzzy(self.dialect, query, filters)
        if built is None:
            return []
        statement, params = built
        if any(len(term) - 2 > owned.MAX_TRIGRAMS for term in filters.values()):
            # The same fragments as similar() writes, in the filters' order, other trigrams.
            params["match"] = " AND ".join(
                typo_fragment(session, field, term)
                for field, term in filters.items()
                if len(term) >= 3
            )
        return [tuple(row) for row in session.execute(statement, params)]

    def _similar_names(self, session: Session, kind: Postings, term: str) -> list[tuple[Any, str]]:
        """Names sharing the most of the term's trigrams (none for a term under three letters)."""
        grams = sorted(trigrams(term))
        if not grams:
            return []
        query = " OR ".join(map(phrase, grams))
        return [tuple(row) for row in session.execute(_similar(kind.vocabulary.name), {"q": query})]

    def remove(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Drop these images' rows and their tag and label postings from the index."""
        for start in range(0, len(image_ids), 500):  # under SQLite's limit of bound values
            hexes = [i.hex for i in image_ids[start : start + 500]]
            session.execute(_REMOVE_TEXT, {"ids": hexes})
            session.execute(_REMOVE_ROWS, {"ids": hexes})
            forget_postings(session, hexes)
