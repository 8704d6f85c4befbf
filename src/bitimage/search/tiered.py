"""What every SQL search index shares: the two tiers, scoping, paging and fuzzy re-ranking.

Results come in two tiers. Strong matches (every filter equals or contains its query) are
found and paged entirely in SQL through the index, exact matches first, then newest. Fuzzy
matches (a filter is similar to its query) are drawn from the index's best
`FUZZY_CANDIDATES` and ranked by `ranking.best_score`, then newest, identically on every
database. The statements are written once, in `query.py`; each subclass brings its dialect
(the few fragments its database writes its own way) and writes its index rows.

A `content_label` filter also ranks by the label's confidence (the analyser's), and only
labels at or above `min_confidence` count: strong matches read them from image_content_labels
in SQL, fuzzy candidates in one query for the page's candidates.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import TableClause, Update, bindparam, text
from sqlalchemy.orm import Session

from bitimage.search import query as sql
from bitimage.search.combined import CombinedSearch
from bitimage.search.combined_fuzzy import CombinedFuzzy
from bitimage.search.ports import LabelWords, SearchPage, SearchQuery
from bitimage.search.postings import LABELS, TAGS, Postings, Vocabulary
from bitimage.search.query import COLUMNS, SEPARATOR, SearchDialect
from bitimage.search.ranking import (
    SUBSTRING,
    Position,
    best_score,
    decode_cursor,
    encode_cursor,
    normalise,
    value_score,
)
from bitimage.search.scope import posting_statements, rescope, rescope_statement
from bitimage.search.streams import PostingSearch

Candidate = tuple[Any, Any, str, str, str, str]  # id, created_at, name, tags, labels, text


def query_filters(query: SearchQuery) -> dict[str, str]:
    """The query's non-empty fuzzy filters, normalised, by field name."""
    given = (
        ("name", query.name),
        ("tag", query.tag),
        ("label", query.label),
        ("text", query.text),
    )
    return {field: normalise(value) for field, value in given if value and normalise(value)}


def _posting_filter(query: SearchQuery, filters: dict[str, str]) -> tuple[Postings, str] | None:
    """The tag or label filter when it is the only one: read from its postings."""
    if query.hash or len(filters) != 1:
        return None
    ((field, term),) = filters.items()
    return {"tag": (TAGS, term), "label": (LABELS, term)}.get(field)


_LABELS_OF = text(
    "SELECT icl.image_id, cl.name, icl.confidence FROM image_content_labels icl "
    "JOIN content_labels cl ON cl.id = icl.label_id WHERE icl.image_id IN :ids"
).bindparams(bindparam("ids", expanding=True))


# Where each field's text lies in a Candidate: after id and created_at, in the order of
# COLUMNS, as query._texts selects them.
_COLUMN = {field: 2 + n for n, field in enumerate(COLUMNS)}


def _field_score(field: str, term: str, value: str, labels: dict[str, float] | None) -> float:
    """A candidate's best score for one filter (the labels: those that match, when known)."""
    if field == "name":
        return value_score(term, value)
    if field == "label" and labels is not None:
        return best_score(term, labels)
    return best_score(term, value.strip(SEPARATOR).split(SEPARATOR))


def _tag_and_label(query: SearchQuery, filters: dict[str, str]) -> bool:
    """A tag and a label filter, nothing else: read from their postings."""
    return set(filters) == {"tag", "label"} and not query.hash


def strong_positions(dialect: SearchDialect, rows: Iterable[Any]) -> list[Position]:
    """Strong-tier rows (id, created_at, score) as positions of that dialect."""
    return [dialect.position(2, float(s), c, i) for i, c, s in rows]


class TieredSearchIndex:
    """search() for SQL indexes; subclasses bring their dialect and write their index rows."""

    dialect: SearchDialect
    scope_rows: TableClause  # this database's search rows that carry the scope
    word_rows: tuple[TableClause, ...] = ()  # other rows of this database that carry it
    lateral = False  # the database runs LATERAL subqueries (search/postings.py both_per_tag)
    hashes = False  # the database reads an IN sublink once into a hash (search/combined.py)

    def __init__(self, label_words: LabelWords | None = None) -> None:
        self.label_words = label_words

    @functools.cached_property
    def _rescope(self) -> list[Update]:
        rows = (self.scope_rows, *self.word_rows)
        return [*posting_statements(), *(rescope_statement(target) for target in rows)]

    def rescope(self, session: Session, image_ids: Sequence[uuid.UUID]) -> None:
        """Copy these images' scope (owner, time, visible) again into every search row."""
        ids = [self.dialect.id_value(image_id.hex) for image_id in sorted(set(image_ids))]
        rescope(session, self._rescope, ids)

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        """One page of matching image ids, best first."""
        after = decode_cursor(query)
        filters = query_filters(query)
        exact_label = self._resolve_label(filters)
        by_postings = _posting_filter(query, filters)
        if by_postings is not None:
            kind, term = by_postings
            scope = self._posting_scope(query)
            exact = exact_label and kind is LABELS
            rows = self._postings.page(session, kind, term, scope, after, query.limit + 1, exact)
        elif not filters:
            rows = self._unfiltered(session, query, after)
        else:
            rows = []
            read: Vocabulary = {}  # names both tiers of a tag and a label look up
            if after is None or after.tier == 2:
                if _tag_and_label(query, filters):
                    rows = self._strong_postings(session, query, filters, after, exact_label, read)
                else:
                    rows = self._strong(session, query, filters, after, exact_label)
            if len(rows) <= query.limit:
                fuzzy_after = after if after is not None and after.tier == 1 else None
                wanted = query.limit + 1 - len(rows)
                rows += self._fuzzy(session, query, filters, exact_label, fuzzy_after, wanted, read)
        page = rows[: query.limit]
        cursor = encode_cursor(query, page[-1]) if len(rows) > query.limit else None
        return SearchPage([uuid.UUID(hex=p.image_id) for p in page], cursor)

    def _resolve_label(self, filters: dict[str, str]) -> bool:
        """Put the label word the label filter means in its place; True when one does."""
        term = filters.get("label")
        word = None if term is None or self.label_words is None else self.label_words.resolve(term)
        if word is None:
            return False
        filters["label"] = word
        return True

    @functools.cached_property
    def _postings(self) -> PostingSearch:
        return PostingSearch(self.dialect, self._similar_names)

    def _posting_scope(self, query: SearchQuery) -> dict[str, Any]:
        scope: dict[str, Any] = {"floor": query.min_confidence or 0.0}
        if query.owner_id is not None:
            scope["owner"] = self.dialect.id_value(query.owner_id.hex)
        return scope

    def _similar_names(self, session: Session, kind: Postings, term: str) -> list[tuple[Any, str]]:
        """The vocabulary's names most similar to the term, at most VOCABULARY_CANDIDATES."""
        raise NotImplementedError

    def _unfiltered(
        self, session: Session, query: SearchQuery, after: Position | None
    ) -> list[Position]:
        statement, params = sql.unfiltered(self.dialect, query, after)
        position = self.dialect.position
        return [position(0, 0.0, c, i) for i, c in session.execute(statement, params)]

    def _strong(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        after: Position | None,
        exact_label: bool,
    ) -> list[Position]:
        statement, params = sql.strong(self.dialect, query, filters, after, exact_label)
        return strong_positions(self.dialect, session.execute(statement, params))

    @functools.cached_property
    def _combined(self) -> CombinedSearch:
        return CombinedSearch(self.dialect, self.lateral, self.hashes)

    @functools.cached_property
    def _combined_fuzzy(self) -> CombinedFuzzy:
        return CombinedFuzzy(self.dialect, self._postings, self.lateral)

    def _strong_postings(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        after: Position | None,
        exact_label: bool,
        read: Vocabulary | None = None,
    ) -> list[Position]:
        """A tag and a label filter: strong matches from their postings in scope."""
        scope = self._posting_scope(query)
        need = query.limit + 1
        return self._combined.page(session, filters, scope, after, need, exact_label, read)

    def _fuzzy(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        exact_label: bool,
        after: Position | None,
        wanted: int,
        read: Vocabulary | None = None,
    ) -> list[Position]:
        """The typo tier: a tag with a label word from their postings, else from candidates."""
        if exact_label and _tag_and_label(query, filters):
            scope = self._posting_scope(query)
            return self._combined_fuzzy.page(session, filters, scope, after, wanted, read)
        candidates = self._fuzzy_candidates(session, query, filters)
        confidences = self._confidences(session, query, filters, exact_label, candidates)
        return self._rank_fuzzy(candidates, filters, confidences, after, wanted)

    def _fuzzy_candidates(
        self, session: Session, query: SearchQuery, filters: dict[str, str]
    ) -> list[Candidate]:
        built = sql.fuzzy(self.dialect, query, filters)
        if built is None:
            return []
        self._before_fuzzy(session)
        return [tuple(row) for row in session.execute(*built)]

    def _before_fuzzy(self, session: Session) -> None:
        """Settings the fuzzy predicate needs, in this transaction (none by default)."""

    def _confidences(
        self,
        session: Session,
        query: SearchQuery,
        filters: dict[str, str],
        exact_label: bool,
        candidates: list[Candidate],
    ) -> dict[Any, dict[str, float]] | None:
        """The candidates' labels matching the term, at or above the floor (None: no filter).

        A label word (`exact_label`) matches that label only: a candidate without it drops out.
        """
        if "label" not in filters or not candidates:
            return None
        floor = query.min_confidence or 0.0
        term = filters["label"]
        found: dict[Any, dict[str, float]] = {}  # by the id as the driver returns it
        for image_id, name, confidence in session.execute(
            _LABELS_OF, {"ids": [c[0] for c in candidates]}
        ):
            # A label that does not match the term changes no score: it is left out.
            matches = name == term if exact_label else value_score(term, name)
            if confidence >= floor and matches:
                labels = found.setdefault(image_id, {})
                labels[name] = max(labels.get(name, 0.0), confidence)
        return found

    def _rank_fuzzy(
        self,
        candidates: Iterable[Candidate],
        filters: dict[str, str],
        confidences: dict[Any, dict[str, float]] | None,
        after: Position | None,
        wanted: int,
    ) -> list[Position]:
        found = []
        fields = [(field, term, _COLUMN[field]) for field, term in filters.items()]
        position = self.dialect.position
        for candidate in candidates:
            image_id = candidate[0]
            label_conf = None if confidences is None else confidences.get(image_id, {})
            scores = []
            for field, term, column in fields:
                score = _field_score(field, term, candidate[column], label_conf)
                if score == 0.0:
                    break  # a filter nothing of the candidate matches: not listed
                scores.append(score)
            # A value scores SUBSTRING or more exactly when it contains the term (a similar
            # one at most FUZZY_WEIGHT): so this is "every filter contains its term", listed
            # by _strong.
            if len(scores) < len(fields) or min(scores) >= SUBSTRING:
                continue
            score = round(sum(scores), 4)
            if label_conf:  # then the most confident label among those that match
                term = filters["label"]
                score += max(c for n, c in label_conf.items() if value_score(term, n)) / 1000
            found.append(position(1, round(score, 7), candidate[1], image_id))
        found.sort(key=Position.sort_key, reverse=True)
        if after is not None:
            found = [p for p in found if p.sort_key() < after.sort_key()]
        return found[:wanted]
