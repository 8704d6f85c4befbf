"""The statements of a tag and a label filter together (search/combined.py, combined_fuzzy.py).

Each class of strong matches is read from the tags' postings joined to their labels (`both`;
on PostgreSQL probed per tag posting while they are few, `both_per_tag`), or from one label's
postings in confidence order, each checked for the tags (`postings_by_label.py`).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    true,
)

from bitimage.search.hints import unindexed
from bitimage.search.postings import LABELS, TAGS, at_floor, in_scope
from bitimage.search.query import EXACT_WEIGHT, ONE, ZERO


def newer(created_at: ColumnElement[Any], ident: ColumnElement[Any]) -> ColumnElement[bool]:
    """Older than the cursor (:c), or as old with a lower id (:i)."""
    moment: ColumnElement[Any] = bindparam("c")
    image_id: ColumnElement[Any] = bindparam("i")
    return or_(created_at < moment, (created_at == moment) & (ident < image_id))


def below(score: ColumnElement[Any], newer: ColumnElement[bool]) -> ColumnElement[bool]:
    """Below the cursor's score (:s), or level with it and `newer`."""
    above: ColumnElement[Any] = bindparam("s", type_=Float())  # a score is not an integer
    return or_(score < above, (score == above) & newer)


@functools.lru_cache(maxsize=4)
def tag_count(public: bool) -> Select[Any]:
    """How many postings in scope the tags (:tags) have, counted up to :cap."""
    tags = TAGS.postings
    some = select(ONE).where(tags.c.tag_id.in_(bindparam("tags", expanding=True)))
    some = some.where(*in_scope(TAGS, public)).limit(bindparam("cap"))
    return select(func.count()).select_from(some.subquery())


@functools.lru_cache(maxsize=4)
def label_count(public: bool) -> Select[Any]:
    """How many postings in scope the labels (:first) have at or above :floor, up to :cap."""
    labels = LABELS.postings
    some = select(ONE).where(labels.c.label_id.in_(bindparam("first", expanding=True)))
    some = some.where(*in_scope(LABELS, public), *at_floor(LABELS)).limit(bindparam("cap"))
    return select(func.count()).select_from(some.subquery())


def has_tag(image_id: ColumnElement[Any], key: str, many: bool) -> ColumnElement[bool]:
    """The image has the tag :key (`many`: one of the tags :key)."""
    other = TAGS.postings.alias("t2")
    tag: ColumnElement[Any] = other.c.tag_id
    which = tag.in_(bindparam(key, expanding=True)) if many else tag == bindparam(key)
    return select(ONE).where(other.c.image_id == image_id, which).exists()


def checked_per_row(probe: Select[Any]) -> ColumnElement[bool]:
    """EXISTS (probe), tested row by row in the outer statement's order.

    PostgreSQL turns a plain EXISTS into a semi join and may then drive from the probed
    table: all of a common tag's postings read and sorted (140 ms at 1M) where a LIMIT over
    the label's postings in order was meant to stop after a page. An OFFSET keeps it a
    subplan (PostgreSQL does not pull up a sublink with one); SQLite ignores it.
    """
    return probe.offset(0).exists()


@functools.lru_cache(maxsize=32)
def both_per_tag(public: bool, after: bool, exact_tag: bool, exact_label: bool) -> Select[Any]:
    """`both`, each tag posting's labels probed by its image (a LATERAL subquery).

    PostgreSQL's planner hashes every posting of a common label for a few thousand tag
    postings (245,000 read for 3,163: 37 ms at 1M); probed per tag posting, the cost is the
    tags' count, which the caller bounds. (SQLite has no LATERAL and joins by probes anyway.)
    """
    tags, labels = TAGS.postings, LABELS.postings.alias("l")
    exact_case = case((labels.c.label_id == bindparam("exact_label"), ONE), else_=ZERO)
    best = (
        select(
            func.max(labels.c.confidence).label("conf"),
            func.max(exact_case).label("exact"),
        )
        .where(
            labels.c.image_id == tags.c.image_id,
            labels.c.label_id.in_(bindparam("labels", expanding=True)),
            *in_scope(LABELS, public, postings=labels),
            labels.c.confidence >= bindparam("floor"),
        )
        .lateral("lc")
    )
    weight: ColumnElement[Any] = literal_column(
        str(EXACT_WEIGHT * (int(exact_tag) + int(exact_label)))
    )
    score = weight + best.c.conf
    where = [
        tags.c.tag_id.in_(bindparam("tags", expanding=True)),
        *in_scope(TAGS, public),
        best.c.exact == (ONE if exact_label else ZERO),  # NULL (no such label): left out
    ]
    if not exact_tag:
        where.append(~has_tag(tags.c.image_id, "exact_tag", False))
    if after:
        where.append(below(score, newer(tags.c.created_at, tags.c.image_id)))
    order = [literal_column("score").desc(), tags.c.created_at.desc(), tags.c.image_id.desc()]
    return (
        select(tags.c.image_id.label("id"), tags.c.created_at, score.label("score"))
        .distinct()  # an image with several of the tags: one row each, all the same
        .select_from(tags.join(best, true()))
        .where(*where)
        .order_by(*order)
        .limit(bindparam("limit"))
    )


@functools.lru_cache(maxsize=32)
def both(public: bool, after: bool, exact_tag: bool, exact_label: bool) -> Select[Any]:
    """One class of images with a tag (:tags) and a label (:labels) containing their terms.

    Read from the tag's postings in scope (owner's or visible), each joined to its image's
    labels: score 2 per exact name (:exact_tag, :exact_label) plus the best confidence. The
    class: the exact tag or only others (:tags hold the exact one, or only others), and the
    exact label or not; ranked by score, then newest.
    """
    tags, labels = TAGS.postings, LABELS.postings
    exact_label_case = case((labels.c.label_id == bindparam("exact_label"), ONE), else_=ZERO)
    weight: ColumnElement[Any] = literal_column(
        str(EXACT_WEIGHT * (int(exact_tag) + int(exact_label)))
    )
    score = weight + func.max(labels.c.confidence)
    # Each of the tag's images has a few labels, read through the primary key: with
    # statistics SQLite otherwise read from the label's postings instead (the owner's 50,000
    # `animal` postings, each probing the tags: 97 ms against 1 ms, bench_search).
    label = unindexed(labels.c.label_id)
    where = [
        tags.c.tag_id.in_(bindparam("tags", expanding=True)),
        *in_scope(TAGS, public),
        label.in_(bindparam("labels", expanding=True)),
        *in_scope(LABELS, public, unindexed),
        unindexed(labels.c.confidence) >= bindparam("floor"),
    ]
    if not exact_tag:  # an image with the exact tag belongs to the class above
        where.append(~has_tag(tags.c.image_id, "exact_tag", False))
    statement = (
        select(tags.c.image_id.label("id"), tags.c.created_at, score.label("score"))
        .select_from(tags.join(labels, labels.c.image_id == tags.c.image_id))
        .where(*where)
        .group_by(tags.c.image_id, tags.c.created_at)
        .having(func.max(exact_label_case) == (ONE if exact_label else ZERO))
        .order_by(literal_column("score").desc(), tags.c.created_at.desc(), tags.c.image_id.desc())
        .limit(bindparam("limit"))
    )
    if after:
        statement = statement.having(below(score, newer(tags.c.created_at, tags.c.image_id)))
    return statement
