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
    Float,
    Select,
    TableClause,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)

from bitimage.search.query import EXACT_WEIGHT, ONE, ZERO

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
    return table(name, *map(column, [*columns, *(["confidence"] if ranked else [])]))


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


def similar(kind: Postings, predicate: ColumnElement[bool], order: Any) -> Select[Any]:
    """The vocabulary's names passing the dialect's similarity predicate, best first."""
    vocabulary = kind.vocabulary
    statement = select(vocabulary.c.id, vocabulary.c.name).where(predicate)
    if order is not None:
        statement = statement.order_by(order)
    return statement.limit(VOCABULARY_CANDIDATES)


def _scope(kind: Postings, public: bool) -> list[ColumnElement[bool]]:
    postings = kind.postings
    # `visible` written bare: the partial indexes' own condition, so both databases use them.
    return [postings.c.visible] if public else [postings.c.user_id == bindparam("owner")]


def _order(kind: Postings) -> list[ColumnElement[Any]]:
    postings = kind.postings
    first = [postings.c.confidence.desc()] if kind.ranked else []
    return [*first, postings.c.created_at.desc(), postings.c.image_id.desc()]


def _floor(kind: Postings) -> list[ColumnElement[bool]]:
    return [kind.postings.c.confidence >= bindparam("floor")] if kind.ranked else []


@functools.lru_cache(maxsize=32)
def stream(kind: Postings, public: bool, after: str | None) -> Select[Any]:
    """One name's postings in scope (id :e), best then newest, at most :window of them."""
    postings = kind.postings
    where = [kind.entry == bindparam("e"), *_scope(kind, public), *_floor(kind)]
    if after == KEYSET:  # the same score: newer rows came before
        moment: ColumnElement[Any] = bindparam("c")
        image_id: ColumnElement[Any] = bindparam("i")
        where.append(
            or_(
                postings.c.created_at < moment,
                (postings.c.created_at == moment) & (postings.c.image_id < image_id),
            )
        )
    elif after == BOUND:  # an index range up to the cursor's confidence; the rest in Python
        where.append(postings.c.confidence <= bindparam("top"))
    return (
        select(postings.c.image_id, postings.c.created_at, kind.confidence, kind.entry)
        .where(*where)
        .order_by(*_order(kind))
        .limit(bindparam("window"))
    )


@functools.lru_cache(maxsize=16)
def merged(kind: Postings, public: bool) -> Select[Any]:
    """Many names' postings in scope (ids :ids), the exact name's (:exact) first, then best."""
    postings = kind.postings
    exact = case((kind.entry == bindparam("exact"), ONE), else_=ZERO)
    where = [kind.entry.in_(bindparam("ids", expanding=True)), *_scope(kind, public), *_floor(kind)]
    return (
        select(postings.c.image_id, postings.c.created_at, kind.confidence, kind.entry)
        .where(*where)
        .order_by(exact.desc(), *_order(kind))
        .limit(bindparam("window"))
    )


@functools.lru_cache(maxsize=8)
def of_images(kind: Postings) -> Select[Any]:
    """The postings of some images (:images) on some names (:ids), at or above the floor."""
    postings = kind.postings
    return select(postings.c.image_id, kind.entry, kind.confidence).where(
        postings.c.image_id.in_(bindparam("images", expanding=True)),
        kind.entry.in_(bindparam("ids", expanding=True)),
        *_floor(kind),
    )


@functools.lru_cache(maxsize=8)
def both(public: bool, after: bool) -> Select[Any]:
    """Images with a tag (:tags) and a label (:labels) containing their terms, in scope.

    Read from the tag's postings in scope (owner's or visible), each joined to its image's
    labels: score 2 per exact name (:exact_tag, :exact_label) plus the best confidence.
    """
    tags, labels = TAGS.postings, LABELS.postings
    exact_tag = case((tags.c.tag_id == bindparam("exact_tag"), ONE), else_=ZERO)
    exact_label = case((labels.c.label_id == bindparam("exact_label"), ONE), else_=ZERO)
    score = (func.max(exact_tag) + func.max(exact_label)) * literal_column(
        str(EXACT_WEIGHT)
    ) + func.max(labels.c.confidence)
    statement = (
        select(tags.c.image_id.label("id"), tags.c.created_at, score.label("score"))
        .select_from(tags.join(labels, labels.c.image_id == tags.c.image_id))
        .where(
            tags.c.tag_id.in_(bindparam("tags", expanding=True)),
            *_scope(TAGS, public),
            labels.c.label_id.in_(bindparam("labels", expanding=True)),
            *_floor(LABELS),
        )
        .group_by(tags.c.image_id, tags.c.created_at)
        .order_by(literal_column("score").desc(), tags.c.created_at.desc(), tags.c.image_id.desc())
        .limit(bindparam("limit"))
    )
    if after:
        above: ColumnElement[Any] = bindparam("s", type_=Float())
        moment: ColumnElement[Any] = bindparam("c")
        image_id: ColumnElement[Any] = bindparam("i")
        newer = or_(
            tags.c.created_at < moment,
            (tags.c.created_at == moment) & (tags.c.image_id < image_id),
        )
        statement = statement.having(or_(score < above, (score == above) & newer))
    return statement
