"""The search statements, written once in SQLAlchemy Core for every database.

A `SearchDialect` supplies the few fragments each database writes its own way: how a filter
matches (a predicate, or a fragment of the text index's own query), an exact value or whole
tag, the fuzzy predicate, the candidates' order, and which table leads the join. Everything
else (scope, label confidence, score, keyset paging, order) is here.

Statements are built once per shape (scope, which filters in which form, first page or not)
and cached, their values bound by name at execution: building a statement costs more than
running it on a small index. So a builder returns the cached statement and its parameters.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)

from bitimage.search.ports import SearchQuery
from bitimage.search.ranking import Position

FUZZY_CANDIDATES = 400
SEPARATOR = "\n"  # between an image's tags: no query contains it, so no match spans two
EXACT_WEIGHT = 2  # an exact filter outweighs any label confidence (at most 1) in a strong score
COLUMNS = {"name": "name", "tag": "tags", "label": "labels", "text": "text"}
MATCH = "match"  # the form of a filter written into the text index's query (bound as :match)
LABEL = "label"  # the form of the label filter: a join on the labels with their confidence

# Untyped columns: results come back as the driver returns them, and parameters bind as given.
IMAGES = table(
    "images",
    column("id"),
    column("user_id"),
    column("created_at"),
    column("is_private"),
    column("moderation"),
    column("hash"),
).alias("i")
_LABELS = table("content_labels", column("id"), column("name")).alias("cl")
_IMAGE_LABELS = table(
    "image_content_labels", column("image_id"), column("label_id"), column("confidence"),
    column("user_id"), column("visible"),
).alias("icl")  # fmt: skip
ONE: ColumnElement[Any] = literal_column("1")
ZERO: ColumnElement[Any] = literal_column("0")

Shape = tuple[tuple[str, str], ...]  # (field, form) per filter, in the filters' order


def like_pattern(term: str) -> str:
    """A LIKE pattern (escape character backslash) matching values that contain `term`."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class Term:
    """How a dialect writes one filter: its form (part of the shape), values and index fragment."""

    form: str
    params: dict[str, Any] = field(default_factory=dict)
    fragment: str = ""  # for the form MATCH: this filter's part of the text index's query


class SearchDialect(Hashable, Protocol):
    """The fragments of the search statements that differ between databases."""

    @property
    def search(self) -> FromClause:
        """The search rows, alias `s`: name, tags, labels, text."""
        ...

    @property
    def ranks_by_index(self) -> bool:
        """Candidates come in the text index's rank order: a candidate query must query it."""
        ...

    @property
    def text_index(self) -> ColumnElement[bool] | None:
        """The text index's query, of the MATCH fragments bound as :match (None: no such form)."""
        ...

    @property
    def scoped(self) -> FromClause:
        """The search rows that carry the scope: image_id, user_id, created_at, visible."""
        ...

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """The search rows (and with `hashed` the images); `by_index`: the text index leads."""
        ...

    def contains(self, field: str, term: str) -> Term:
        """A strong filter: the field contains `term` (also binds what `exact` needs)."""
        ...

    def similar(self, field: str, term: str) -> Term:
        """A fuzzy candidate filter: the field has a word similar to `term`."""
        ...

    def predicate(self, form: str, field: str) -> ColumnElement[bool]:
        """The condition of a filter of this form (any but MATCH) on this field."""
        ...

    def exact(self, field: str) -> ColumnElement[Any]:
        """1 when the name equals the term or a tag, label or line is the term, else 0."""
        ...

    def candidate_order(self, fields: Sequence[str]) -> ColumnElement[Any]:
        """The order fuzzy candidates are drawn in, best first."""
        ...

    def id_value(self, image_id: str) -> Any:
        """An image id (a cursor's hex) as this database compares ids."""
        ...

    def time_value(self, moment: str) -> Any:
        """A cursor's time as this database compares times."""
        ...

    def position(self, tier: int, score: float, created_at: Any, image_id: Any) -> Position:
        """A result row as a cursor position (ids and times as the driver returns them)."""
        ...


def unfiltered(
    dialect: SearchDialect, query: SearchQuery, after: Position | None
) -> tuple[Select[Any], dict[str, Any]]:
    """Newest first, in scope: the statement and its parameters."""
    params = _bind(dialect, query, after, {"limit": query.limit + 1})
    if query.owner_id is None:
        params["no"] = False
    return _unfiltered(dialect, *_scope_shape(query), after is not None), params


def strong(
    dialect: SearchDialect,
    query: SearchQuery,
    filters: dict[str, str],
    after: Position | None,
    exact_label: bool = False,
) -> tuple[Select[Any], dict[str, Any]]:
    """Every filter equals (`exact_label`: the label equals) or contains its term."""
    params: dict[str, Any] = {"limit": query.limit + 1}
    shape, fragments = [], []
    for name, term in filters.items():
        if name == "label":  # matched on the labels themselves, with their confidence
            pattern = like_pattern(term)
            params.update(lc_like=pattern[1:-1] if exact_label else pattern, lc_exact=term)
            params["lc_min"] = query.min_confidence or 0.0
            shape.append((name, LABEL))
            continue
        written = dialect.contains(name, term)
        params.update(written.params)
        fragments += [written.fragment] if written.form == MATCH else []
        shape.append((name, written.form))
    if fragments:
        params["match"] = " AND ".join(fragments)
    if after is not None:
        params["s"] = after.score
    _bind(dialect, query, after, params)
    return _strong(dialect, *_scope_shape(query), tuple(shape), after is not None), params


def fuzzy(
    dialect: SearchDialect, query: SearchQuery, filters: dict[str, str]
) -> tuple[Select[Any], dict[str, Any]] | None:
    """The best FUZZY_CANDIDATES rows similar to every filter (None: no query can find any)."""
    params: dict[str, Any] = {"limit": FUZZY_CANDIDATES}
    shape, fragments = [], []
    for name, term in filters.items():
        written = dialect.similar(name, term)
        params.update(written.params)
        fragments += [written.fragment] if written.form == MATCH else []
        shape.append((name, written.form))
    if dialect.ranks_by_index and not fragments:
        return None
    if fragments:
        params["match"] = " AND ".join(fragments)
    _bind(dialect, query, None, params)
    return _fuzzy(dialect, *_scope_shape(query), tuple(shape)), params


def _scope_shape(query: SearchQuery) -> tuple[bool, bool]:
    return query.owner_id is None, bool(query.hash)


def _bind(
    dialect: SearchDialect, query: SearchQuery, after: Position | None, params: dict[str, Any]
) -> dict[str, Any]:
    """Adds the scope's and the cursor's values to `params`."""
    if query.owner_id is not None:
        params["owner"] = dialect.id_value(query.owner_id.hex)
    if query.hash:
        params["hash"] = query.hash.lower()
    if after is not None:
        params.update(c=dialect.time_value(after.created_at), i=dialect.id_value(after.image_id))
    return params


def _scope(public: bool, hashed: bool) -> list[ColumnElement[bool]]:
    """Whose images: the owner's, or everyone's public ones not hidden by moderation."""
    if public:
        where = [
            IMAGES.c.is_private == bindparam("no"),
            IMAGES.c.moderation != literal_column("'flagged'"),
        ]
    else:
        where = [IMAGES.c.user_id == bindparam("owner")]
    if hashed:
        where.append(IMAGES.c.hash == bindparam("hash"))
    return where


def _row_scope(dialect: SearchDialect, public: bool, hashed: bool) -> list[ColumnElement[bool]]:
    """The same scope, read from the search rows (whose indexes are keyed by it)."""
    rows = dialect.scoped
    # `visible` written bare: the condition of the public partial indexes, as they state it.
    visible: ColumnElement[bool] = rows.c.visible
    where = [visible] if public else [rows.c.user_id == bindparam("owner")]
    if hashed:
        where.append(IMAGES.c.hash == bindparam("hash"))
    return where


def after_position(
    created_at: ColumnElement[Any], ident: ColumnElement[Any]
) -> ColumnElement[bool]:
    """Rows after the cursor's position (:c, :i) in newest-first order (same score)."""
    moment: ColumnElement[Any] = bindparam("c")
    image_id: ColumnElement[Any] = bindparam("i")
    return or_(created_at < moment, and_(created_at == moment, ident < image_id))


def _label_scores(public: bool) -> FromClause:
    """Each image in scope with a label containing the term: its best `conf` and `exact`."""
    exact = case((_LABELS.c.name == bindparam("lc_exact"), ONE), else_=ZERO)
    return (
        select(
            _IMAGE_LABELS.c.image_id.label("image_id"),
            func.max(_IMAGE_LABELS.c.confidence).label("conf"),
            func.max(exact).label("exact"),
        )
        .select_from(_IMAGE_LABELS.join(_LABELS, _LABELS.c.id == _IMAGE_LABELS.c.label_id))
        .where(
            _LABELS.c.name.like(bindparam("lc_like"), escape="\\"),
            _IMAGE_LABELS.c.confidence >= bindparam("lc_min"),
            # The postings carry the scope: only those of the images that may be listed.
            _IMAGE_LABELS.c.visible if public else _IMAGE_LABELS.c.user_id == bindparam("owner"),
        )
        .group_by(_IMAGE_LABELS.c.image_id)
        .subquery("lc")
    )


@functools.lru_cache(maxsize=16)
def _unfiltered(dialect: SearchDialect, public: bool, hashed: bool, after: bool) -> Select[Any]:
    where = _scope(public, hashed)
    if after:
        where.append(after_position(IMAGES.c.created_at, IMAGES.c.id))
    return (
        select(IMAGES.c.id, IMAGES.c.created_at)
        .where(*where)
        .order_by(IMAGES.c.created_at.desc(), IMAGES.c.id.desc())
        .limit(bindparam("limit"))
    )


@functools.lru_cache(maxsize=512)
def _strong(
    dialect: SearchDialect, public: bool, hashed: bool, shape: Shape, after: bool
) -> Select[Any]:
    where, exact = _row_scope(dialect, public, hashed), list[ColumnElement[Any]]()
    labels = None
    for name, form in shape:
        if form == LABEL:
            labels = _label_scores(public)
            exact.append(labels.c.exact)
            continue
        if form != MATCH:
            where.append(dialect.predicate(form, name))
        exact.append(dialect.exact(name))
    by_index = any(form == MATCH for _, form in shape)
    if by_index and dialect.text_index is not None:
        where.append(dialect.text_index)
    score: ColumnElement[Any] = literal_column(str(EXACT_WEIGHT)) * functools.reduce(
        operator.add, exact
    )
    scoped = dialect.scoped
    rows = dialect.rows(by_index, hashed)
    if labels is not None:
        score = score + labels.c.conf
        rows = rows.join(labels, labels.c.image_id == scoped.c.image_id)
    if after:
        above: ColumnElement[Any] = bindparam("s", type_=Float())  # a score is not an integer
        newer = after_position(scoped.c.created_at, scoped.c.image_id)
        where.append(or_(score < above, and_(score == above, newer)))
    return (
        select(scoped.c.image_id.label("id"), scoped.c.created_at, score.label("score"))
        .select_from(rows)
        .where(*where)
        .order_by(
            literal_column("score").desc(), scoped.c.created_at.desc(), scoped.c.image_id.desc()
        )
        .limit(bindparam("limit"))
    )


def _texts(dialect: SearchDialect, fields: set[str]) -> list[ColumnElement[Any]]:
    """The candidates' texts the filters are scored on (name, tags, labels, text); '' others.

    Only a filtered field is scored (tiered._rank_fuzzy), so the others are not fetched (on
    SQLite each from FTS5's content table); a name comes from the scoped row, already read.
    """
    empty: ColumnElement[Any] = literal_column("''", String)
    read = {field: dialect.search.c[COLUMNS[field]] for field in COLUMNS}
    read["name"] = dialect.scoped.c.name
    return [(read[f] if f in fields else empty).label(COLUMNS[f]) for f in COLUMNS]


@functools.lru_cache(maxsize=512)
def _fuzzy(dialect: SearchDialect, public: bool, hashed: bool, shape: Shape) -> Select[Any]:
    where = _row_scope(dialect, public, hashed)
    where += [dialect.predicate(form, name) for name, form in shape if form != MATCH]
    if any(form == MATCH for _, form in shape) and dialect.text_index is not None:
        where.append(dialect.text_index)
    scoped, fields = dialect.scoped, {name for name, _ in shape}
    return (
        select(scoped.c.image_id.label("id"), scoped.c.created_at, *_texts(dialect, fields))
        .select_from(dialect.rows(True, hashed))
        .where(*where)
        .order_by(dialect.candidate_order([name for name, _ in shape]))
        .limit(bindparam("limit"))
    )
