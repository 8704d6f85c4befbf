"""PostgresSearchIndex: pg_trgm GIN indexes answer substring and typo-tolerant queries.

Each image has one row of normalised text (name, tags and labels, lower-case; tags and
labels framed by newlines so an exact tag is a plain substring test). Strong matches are
LIKE '%term%' through the trigram indexes; fuzzy candidates are the rows whose text has a
word similar to every filter (`term <% column`, index-backed), best word similarity first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.ranking import MIN_SIMILARITY, Position, normalise
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
# Built once: index() runs in the notify transaction, which holds the users' row locks.
_UPSERT = sql_text(
    "INSERT INTO image_search (image_id, name, tags, labels, text) "
    "VALUES (:i, :n, :t, :l, :x) ON CONFLICT (image_id) DO UPDATE SET "
    "name = excluded.name, tags = excluded.tags, labels = excluded.labels, "
    "text = excluded.text"
)


def _framed(values: Sequence[str]) -> str:
    return SEPARATOR + SEPARATOR.join(normalise(v) for v in values) + SEPARATOR


class PostgresSearchIndex(TieredSearchIndex):
    """Search through the image_search table and its GIN trigram indexes."""

    def index(self, session: Session, entries: Sequence[SearchEntry]) -> None:
        """Add or replace these images' rows (one upsert, executed for the whole batch)."""
        if not entries:
            return
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

    def remove(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Drop these images' rows from the index."""
        if image_ids:
            session.execute(
                text("DELETE FROM image_search WHERE image_id = ANY(:ids)"),
                {"ids": list(image_ids)},
            )

    def _position(self, tier: int, score: float, created_at: Any, image_id: Any) -> Position:
        # One fixed text form, so cursor times compare as strings and parse back exactly.
        moment = created_at.astimezone(UTC).isoformat(timespec="microseconds")
        return Position(tier, score, moment, uuid.UUID(str(image_id)).hex)

    def _id_value(self, image_id: str) -> Any:
        return uuid.UUID(image_id)

    def _time_value(self, moment: str) -> Any:
        return datetime.fromisoformat(moment)

    def _strong(
        self, session: Session, query: SearchQuery, filters: dict[str, str], after: Position | None
    ) -> list[Position]:
        params: dict[str, Any] = {"limit": query.limit + 1}
        where = [self._scope(query, params)]
        exact, joins = [], ""
        for field, term in filters.items():
            column = _COLUMNS[field]
            if field == "label":  # matched on the labels themselves, with their confidence
                joins = label_join(term, query.min_confidence or 0.0, params)
                exact.append("lc.exact")
                continue
            where.append(f"s.{column} LIKE :like_{field}")
            params[f"like_{field}"] = like_pattern(term)
            if field == "name":
                exact.append("(s.name = :q_name)::int")
                params["q_name"] = term
            else:
                exact.append(f"(strpos(s.{column}, :framed_{field}) > 0)::int")
                params[f"framed_{field}"] = SEPARATOR + term + SEPARATOR
        score = f"{EXACT_WEIGHT} * ({' + '.join(exact)})" + (" + lc.conf" if joins else "")
        if after is not None:
            params["s"] = after.score
            where.append(f"(({score}) < :s OR (({score}) = :s AND {self._after(after, params)}))")
        sql = (
            f"SELECT i.id, i.created_at, {score} AS score FROM image_search s "  # noqa: S608
            f"JOIN images i ON i.id = s.image_id {joins} WHERE {' AND '.join(where)} "
            "ORDER BY score DESC, i.created_at DESC, i.id DESC LIMIT :limit"
        )
        return [self._position(2, float(s), c, i) for i, c, s in session.execute(text(sql), params)]

    def _fuzzy_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> Iterable[Candidate]:
        # The operator `<%` compares with this threshold; the ranking's own floor is the same.
        session.execute(
            text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
            {"t": str(MIN_SIMILARITY)},
        )
        params: dict[str, Any] = {"limit": FUZZY_CANDIDATES}
        where = [self._scope(query, params)]
        similarity = []
        for field, term in filters.items():
            column = _COLUMNS[field]
            where.append(f":q_{field} <% s.{column}")
            similarity.append(f"word_similarity(:q_{field}, s.{column})")
            params[f"q_{field}"] = term
        sql = (
            "SELECT i.id, i.created_at, s.name, s.tags, s.labels, s.text FROM image_search s "  # noqa: S608
            f"JOIN images i ON i.id = s.image_id WHERE {' AND '.join(where)} "
            f"ORDER BY {' + '.join(similarity)} DESC LIMIT :limit"
        )
        return [tuple(row) for row in session.execute(text(sql), params)]
