"""SqliteSearchIndex: an FTS5 trigram index answers substring and typo-tolerant queries.

Results come in two tiers. Strong matches (every filter equals or contains its query) are
found and paged entirely in SQL through the index, exact matches first, then newest. Fuzzy
matches (a filter shares at least half of its query's trigrams) are drawn from the index's
best `FUZZY_CANDIDATES` by bm25 and ranked by trigram similarity, then newest.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bitimage.search.ports import SearchPage, SearchQuery
from bitimage.search.ranking import (
    Position,
    best_score,
    decode_cursor,
    encode_cursor,
    normalise,
    trigrams,
)

FUZZY_CANDIDATES = 400
_COLUMNS = {"name": "name", "tag": "tags", "label": "labels"}
_SEPARATOR = "\n"  # between an image's tags: no query contains it, so no match spans two


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SqliteSearchIndex:
    """Search through an FTS5 table with the trigram tokenizer (SQLite 3.34 and later)."""

    def index(
        self,
        session: Session,
        image_id: uuid.UUID,
        name: str,
        tags: Sequence[str],
        labels: Sequence[str],
    ) -> None:
        """Add or replace an image's row in the index."""
        rowid = session.execute(
            text(
                "INSERT INTO image_search_rows (image_id) VALUES (:id) "
                "ON CONFLICT (image_id) DO NOTHING RETURNING rowid"
            ),
            {"id": image_id.hex},
        ).scalar()
        if rowid is None:  # indexed before: replace its text in place
            rowid = session.execute(
                text("SELECT rowid FROM image_search_rows WHERE image_id = :id"),
                {"id": image_id.hex},
            ).scalar_one()
            session.execute(text("DELETE FROM image_search WHERE rowid = :r"), {"r": rowid})
        session.execute(
            text("INSERT INTO image_search (rowid, name, tags, labels) VALUES (:r, :n, :t, :l)"),
            {"r": rowid, "n": name, "t": _SEPARATOR.join(tags), "l": _SEPARATOR.join(labels)},
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

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        """One page of matching image ids, best first."""
        after = decode_cursor(query)
        filters = {
            field: normalise(value)
            for field, value in (("name", query.name), ("tag", query.tag), ("label", query.label))
            if value and normalise(value)
        }
        if not filters:
            rows = self._unfiltered(session, query, after)
        else:
            rows = []
            if after is None or after.tier == 2:
                rows = self._strong(session, query, filters, after)
            if len(rows) <= query.limit:
                fuzzy_after = after if after is not None and after.tier == 1 else None
                rows += self._fuzzy(
                    session, query, filters, fuzzy_after, query.limit + 1 - len(rows)
                )
        page = rows[: query.limit]
        cursor = encode_cursor(query, page[-1]) if len(rows) > query.limit else None
        return SearchPage([uuid.UUID(hex=p.image_id) for p in page], cursor)

    def _scope(self, query: SearchQuery, params: dict[str, Any]) -> str:
        clauses = []
        if query.owner_id is None:
            clauses.append("i.is_private = 0")
        else:
            clauses.append("i.user_id = :owner")
            params["owner"] = query.owner_id.hex
        if query.hash:
            clauses.append("i.hash = :hash")
            params["hash"] = query.hash.lower()
        return " AND ".join(clauses)

    def _unfiltered(
        self, session: Session, query: SearchQuery, after: Position | None
    ) -> list[Position]:
        params: dict[str, Any] = {"limit": query.limit + 1}
        where = self._scope(query, params)
        if after is not None:
            where += " AND (i.created_at < :c OR (i.created_at = :c AND i.id < :i))"
            params.update(c=after.created_at, i=after.image_id)
        sql = (
            f"SELECT i.id, i.created_at FROM images i WHERE {where} "  # noqa: S608
            "ORDER BY i.created_at DESC, i.id DESC LIMIT :limit"
        )
        return [Position(0, 0.0, c, i) for i, c in session.execute(text(sql), params)]

    def _strong(
        self, session: Session, query: SearchQuery, filters: dict[str, str], after: Position | None
    ) -> list[Position]:
        params: dict[str, Any] = {"limit": query.limit + 1}
        where = [self._scope(query, params)]
        match, exact = [], []
        for field, term in filters.items():
            column = _COLUMNS[field]
            params[f"q_{field}"] = term
            if len(term) >= 3:
                match.append(f"{column} : {_phrase(term)}")
            else:
                where.append(f"lower(s.{column}) LIKE :like_{field} ESCAPE '\\'")
                params[f"like_{field}"] = _like(term)
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
        score = " + ".join(exact)
        if after is not None:
            where.append(
                f"(({score}) < :s OR (({score}) = :s AND "
                "(i.created_at < :c OR (i.created_at = :c AND i.id < :i))))"
            )
            params.update(s=int(after.score), c=after.created_at, i=after.image_id)
        sql = (
            f"SELECT i.id, i.created_at, {score} AS score FROM image_search s "  # noqa: S608
            "JOIN image_search_rows r ON r.rowid = s.rowid JOIN images i ON i.id = r.image_id "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY score DESC, i.created_at DESC, i.id DESC LIMIT :limit"
        )
        return [Position(2, float(s), c, i) for i, c, s in session.execute(text(sql), params)]

    def _fuzzy(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        after: Position | None,
        wanted: int,
    ) -> list[Position]:
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
                params[f"like_{field}"] = _like(term)
        if not groups:
            return []
        where.append("image_search MATCH :match")
        params["match"] = " AND ".join(groups)
        sql = (
            "SELECT i.id, i.created_at, s.name, s.tags, s.labels FROM image_search s "  # noqa: S608
            "JOIN image_search_rows r ON r.rowid = s.rowid JOIN images i ON i.id = r.image_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.rank LIMIT :limit"
        )
        found = []
        for image_id, created_at, name, tags, labels in session.execute(text(sql), params):
            values = {
                "name": [name],
                "tag": tags.split(_SEPARATOR),
                "label": labels.split(_SEPARATOR),
            }
            scores = [best_score(term, values[field]) for field, term in filters.items()]
            strong = all(
                any(term in normalise(v) for v in values[field]) for field, term in filters.items()
            )
            if strong or min(scores) == 0.0:  # strong matches were listed by _strong
                continue
            found.append(Position(1, round(sum(scores), 6), created_at, image_id))
        found.sort(key=Position.sort_key, reverse=True)
        if after is not None:
            found = [p for p in found if p.sort_key() < after.sort_key()]
        return found[:wanted]
