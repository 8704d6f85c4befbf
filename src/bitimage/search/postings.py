"""The statements of a tag or label filter: its vocabulary, then its postings in scope.

A filter on tags or content labels first finds the names it matches in the small vocabulary
(`tags`, `content_labels`): the names that contain the term, and the names most similar to it.
Each matched name's postings (image_tags, image_content_labels) are then read in scope, in
result order, through the scoped indexes (owner, name, [confidence,] time, image; or the
visible ones), so a LIMIT stops after a page whatever the number of images with the name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    TableClause,
    bindparam,
    case,
    column,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.orm import Session

from bitimage.search.hints import unindexed
from bitimage.search.query import ONE, ZERO, like_pattern

VOCABULARY_CANDIDATES = 200  # similar names read from the vocabulary, best first
MAX_STREAMS = 24  # names read one by one; more (a short term) are read in one sorted query
KEYSET, BOUND = "keyset", "bound"  # after a cursor: (time, id) below, or confidence at most


@dataclass(frozen=True)
class Postings:
    """One filter's vocabulary and postings: the tables and the posting's name column."""

    field: str
    vocabulary: TableClause
    postings: TableClause
    key: str  # the posting's column naming the vocabulary entry
    ranked: bool  # postings carry a confidence, the first order after the name

    @property
    def entry(self) -> ColumnElement[Any]:
        """The posting's vocabulary id."""
        return self.postings.c[self.key]

    @property
    def confidence(self) -> ColumnElement[Any]:
        """The posting's confidence (0 for tags, which have none)."""
        return self.postings.c.confidence if self.ranked else ZERO


def _postings(name: str, key: str, ranked: bool) -> TableClause:
    columns = ["image_id", key, "user_id", "created_at", "visible"]
    return table(name, *map(column, [*columns, *(["confidence", "analyser"] if ranked else [])]))


TAGS = Postings(
    "tag",
    table("tags", column("id"), column("name")),
    _postings("image_tags", "tag_id", False),
    "tag_id",
    False,
)
LABELS = Postings(
    "label",
    table("content_labels", column("id"), column("name")),
    _postings("image_content_labels", "label_id", True),
    "label_id",
    True,
)


@functools.lru_cache(maxsize=8)
def containing(kind: Postings) -> Select[Any]:
    """The vocabulary's names containing the term (bound as the LIKE pattern :like)."""
    vocabulary = kind.vocabulary
    return select(vocabulary.c.id, vocabulary.c.name).where(
        vocabulary.c.name.like(bindparam("like"), escape="\\")
    )


@functools.lru_cache(maxsize=8)
def named(kind: Postings) -> Select[Any]:
    """The vocabulary's entry of one exact name (:name), if any image has it."""
    vocabulary = kind.vocabulary
    return select(vocabulary.c.id, vocabulary.c.name).where(vocabulary.c.name == bindparam("name"))


Names = list[tuple[Any, str]]  # (id, name) entries of a vocabulary
Vocabulary = dict[tuple[str, str, bool], Names]  # what one search read: (field, term, exact)


def names_of(session: Session, kind: Postings, term: str, exact: bool, read: Vocabulary) -> Names:
    """The vocabulary's entries named the term (`exact`) or containing it, read once a search
    (its strong and typo tiers both need them)."""
    key = (kind.field, term, exact)
    if key not in read:
        if exact:
            rows = session.execute(named(kind), {"name": term})
        else:
            rows = session.execute(containing(kind), {"like": like_pattern(term)})
        read[key] = [(entry, name) for entry, name in rows]
    return read[key]


def similar(kind: Postings, predicate: ColumnElement[bool], order: Any) -> Select[Any]:
    """The vocabulary's names passing the dialect's similarity predicate, best first."""
    vocabulary = kind.vocabulary
    statement = select(vocabulary.c.id, vocabulary.c.name).where(predicate)
    if order is not None:
        statement = statement.order_by(order)
    return statement.limit(VOCABULARY_CANDIDATES)


def in_scope(
    kind: Postings, public: bool, hint: Any = None, postings: Any = None
) -> list[ColumnElement[bool]]:
    """The postings' scope: the owner's (:owner), or the visible ones."""
    postings = kind.postings if postings is None else postings
    if public:  # written bare: the partial indexes' own condition, so both databases use them
        return [postings.c.visible]
    owner = postings.c.user_id if hint is None else hint(postings.c.user_id)
    return [owner == bindparam("owner")]


def ranked_order(kind: Postings) -> list[ColumnElement[Any]]:
    """Result order within one name: best confidence (labels), then newest."""
    postings = kind.postings
    first = [postings.c.confidence.desc()] if kind.ranked else []
    return [*first, postings.c.created_at.desc(), postings.c.image_id.desc()]


def at_floor(kind: Postings) -> list[ColumnElement[bool]]:
    """Labels at or above the confidence floor (:floor); tags have none."""
    return [kind.postings.c.confidence >= bindparam("floor")] if kind.ranked else []


def _stream(kind: Postings, public: bool, after: str | None, n: int) -> Select[Any]:
    """One name's postings in scope (id :e<n>), best then newest, at most :window of them."""
    postings = kind.postings
    where = [kind.entry == bindparam(f"e{n}"), *in_scope(kind, public), *at_floor(kind)]
    if after == KEYSET:  # the same score: newer rows came before
        moment: ColumnElement[Any] = bindparam(f"c{n}")
        image_id: ColumnElement[Any] = bindparam(f"i{n}")
        where.append(
            or_(
                postings.c.created_at < moment,
                (postings.c.created_at == moment) & (postings.c.image_id < image_id),
            )
        )
    elif after == BOUND:  # an index range up to the cursor's confidence; the rest in Python
        where.append(postings.c.confidence <= bindparam(f"top{n}"))
    return (
        select(
            postings.c.image_id,
            postings.c.created_at,
            kind.confidence.label("confidence"),
            kind.entry,
        )
        .where(*where)
        .order_by(*ranked_order(kind))
        .limit(bindparam("window"))
    )


@functools.lru_cache(maxsize=256)
def streams(kind: Postings, public: bool, afters: tuple[str | None, ...]) -> CompoundSelect[Any]:
    """Several names' postings, each read as by itself (`_stream`), in one statement.

    One statement for up to MAX_STREAMS names: each name's window is its own ordered index
    range (a LIMIT each), so the rows come back grouped by name, not merged.
    """
    members = []
    for n, after in enumerate(afters):
        one = _stream(kind, public, after, n).subquery(f"p{n}")
        members.append(select(*one.c))  # SQLite orders and limits a compound's member so
    return union_all(*members)


@functools.lru_cache(maxsize=16)
def merged(kind: Postings, public: bool) -> Select[Any]:
    """Many names' postings in scope (ids :ids), the exact name's (:exact) first, then best."""
    postings = kind.postings
    exact = case((kind.entry == bindparam("exact"), ONE), else_=ZERO)
    named = kind.entry.in_(bindparam("ids", expanding=True))
    where = [named, *in_scope(kind, public), *at_floor(kind)]
    return (
        select(postings.c.image_id, postings.c.created_at, kind.confidence, kind.entry)
        .where(*where)
        .order_by(exact.desc(), *ranked_order(kind))
        .limit(bindparam("window"))
    )


@functools.lru_cache(maxsize=8)
def of_images(kind: Postings) -> Select[Any]:
    """The postings of some images (:images) on some names (:ids), at or above the floor.

    Read by image, through the primary key: a page's images have a few postings each. With
    statistics, SQLite preferred a skip-scan of the owner's postings of each name (ANY(user_id)
    AND label_id AND confidence): 35-145 ms against 1-3 ms (bench_search, pages of a label).
    """
    postings = kind.postings
    floor = [unindexed(postings.c.confidence) >= bindparam("floor")] if kind.ranked else []
    return select(postings.c.image_id, kind.entry, kind.confidence).where(
        postings.c.image_id.in_(bindparam("images", expanding=True)),
        unindexed(kind.entry).in_(bindparam("ids", expanding=True)),
        *floor,
    )
