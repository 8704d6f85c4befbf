"""SqliteSearchIndex: an FTS5 trigram index answers substring and typo-tolerant queries.

Strong matches use FTS5 phrase queries (LIKE for terms under three characters); fuzzy
candidates are the images sharing trigrams with every filter, best bm25 first.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.ranking import Position, trigrams
from bitimage.search.tiered import (
    EXACT_WEIGHT,
    FUZZY_CANDIDATES,
    SEPARATOR,
    Candidate,
    TieredSearchIndex,
    label_join,
    like_pattern,
)

_COLUMNS = {"name": "name", "tag": "tags", "label": "labels", "text": "text"}


# Built once: index() runs in the notify transaction, under the database's write lock.
_ROWIDS = sql_text(
    "SELECT image_id, rowid FROM image_search_rows WHERE image_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_DELETE_TEXT = sql_text("DELETE FROM image_search WHERE rowid IN :rows").bindparams(
    bindparam("rows", expanding=True)
)
_INSERT_TEXT = sql_text(
    "INSERT INTO image_search (rowid, name, tags, labels, text) VALUES (:r, :n, :t, :l, :x)"
)


@functools.lru_cache(maxsize=64)
def _claim_rows(count: int) -> TextClause:
    """INSERT of `count` image ids that returns the rowid of each one not indexed before."""
    values = ", ".join(f"(:i{n})" for n in range(count))
    return sql_text(
        f"INSERT INTO image_search_rows (image_id) VALUES {values} "  # noqa: S608 - placeholders only
        "ON CONFLICT (image_id) DO NOTHING RETURNING image_id, rowid"
    )


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteSearchIndex(TieredSearchIndex):
    """Search through an FTS5 table with the trigram tokenizer (SQLite 3.34 and later)."""

    def index(self, session: Session, entries: Sequence[SearchEntry]) -> None:
        """Add or replace these images' rows: three statements for a whole batch."""
        if not entries:
            return
        hexes = [entry.image_id.hex for entry in entries]
        claimed = {f"i{n}": h for n, h in enumerate(hexes)}
        inserted = session.execute(_claim_rows(len(hexes)), claimed)
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

    def remove(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Drop these images' rows from the index."""
        for start in range(0, len(image_ids), 500):
            hexes = [i.hex for i in image_ids[start : start + 500]]
            marks = ",".join(f":i{n}" for n in range(len(hexes)))
            params = {f"i{n}": h for n, h in enumerate(hexes)}
            # Only generated placeholders are formatted in; the values are bound.
            rows = f"SELECT rowid FROM image_search_rows WHERE image_id IN ({marks})"  # noqa: S608
            session.execute(text(f"DELETE FROM image_search WHERE rowid IN ({rows})"), params)  # noqa: S608
            session.execute(
                text(f"DELETE FROM image_search_rows WHERE image_id IN ({marks})"),  # noqa: S608
                params,
            )

    def _strong(
        self, session: Session, query: SearchQuery, filters: dict[str, str], after: Position | None
    ) -> list[Position]:
        params: dict[str, Any] = {"limit": query.limit + 1}
        where = [self._scope(query, params)]
        match, exact, joins = [], [], ""
        for field, term in filters.items():
            column = _COLUMNS[field]
            params[f"q_{field}"] = term
            if field == "label":  # matched on the labels themselves, with their confidence
                joins = label_join(term, query.min_confidence or 0.0, params)
                exact.append("lc.exact")
                continue
            if len(term) >= 3:
                match.append(f"{column} : {_phrase(term)}")
            else:
                where.append(f"lower(s.{column}) LIKE :like_{field} ESCAPE '\\'")
                params[f"like_{field}"] = like_pattern(term)
            if field == "name":
                exact.append("(lower(s.name) = :q_name)")
            else:
                exact.append(
                    f"(instr(char(10) || lower(s.{column}) || char(10), "
                    f"char(10) || :q_{field} || char(10)) > 0)"
                )
        if match:
            where.append("image_search MATCH :match")
            params["match"] = " AND ".join(match)
            tables = (
                "image_search s JOIN image_search_rows r ON r.rowid = s.rowid "
                "JOIN images i ON i.id = r.image_id"
            )
        else:  # no index condition on the text: start from the images (and their labels)
            tables = (
                "images i JOIN image_search_rows r ON r.image_id = i.id "
                "JOIN image_search s ON s.rowid = r.rowid"
            )
        score = f"{EXACT_WEIGHT} * ({' + '.join(exact)})" + (" + lc.conf" if joins else "")
        if after is not None:
            params["s"] = after.score
            where.append(f"(({score}) < :s OR (({score}) = :s AND {self._after(after, params)}))")
        statement = (
            f"SELECT i.id, i.created_at, {score} AS score FROM {tables} {joins} "  # noqa: S608
            f"WHERE {' AND '.join(where)} "
            "ORDER BY score DESC, i.created_at DESC, i.id DESC LIMIT :limit"
        )
        rows = session.execute(text(statement), params)
        return [Position(2, float(s), c, i) for i, c, s in rows]

    def _fuzzy_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> Iterable[Candidate]:
        params: dict[str, Any] = {"limit": FUZZY_CANDIDATES}
        where = [self._scope(query, params)]
        groups = []
        for field, term in filters.items():
            column = _COLUMNS[field]
            grams = sorted(trigrams(term))
            if grams:
                groups.append(f"{column} : ({' OR '.join(_phrase(g) for g in grams)})")
            else:  # too short for typos: it must be contained
                where.append(f"lower(s.{column}) LIKE :like_{field} ESCAPE '\\'")
                params[f"like_{field}"] = like_pattern(term)
        if not groups:
            return []
        where.append("image_search MATCH :match")
        params["match"] = " AND ".join(groups)
        sql = (
            "SELECT i.id, i.created_at, s.name, s.tags, s.labels, s.text FROM image_search s "  # noqa: S608
            "JOIN image_search_rows r ON r.rowid = s.rowid JOIN images i ON i.id = r.image_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.rank LIMIT :limit"
        )
        return [tuple(row) for row in session.execute(text(sql), params)]
