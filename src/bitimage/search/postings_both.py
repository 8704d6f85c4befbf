"""The statements of a tag and a label filter together (search/combined.py, combined_fuzzy.py).

Each class of strong matches is read from the tags' postings joined to their labels (`both`;
on PostgreSQL probed per tag posting while they are few, `both_per_tag`), or from one label's
postings in confidence order, each checked for the tags (`both_by_label`).
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
from bitimage.search.postings import LABELS, TAGS, at_floor, in_scope, ranked_order
from bitimage.search.query import EXACT_WEIGHT, ONE, ZERO


def _newer(created_at: ColumnElement[Any], ident: ColumnElement[Any]) -> ColumnElement[bool]:
    moment: ColumnElement[Any] = bindparam("c")
    image_id: ColumnElement[Any] = bindparam("i")
    return or_(created_at < moment, (created_at == moment) & (ident < image_id))


def _below(score: ColumnElement[Any], newer: ColumnElement[bool]) -> ColumnElement[bool]:
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


def _has_tag(image_id: ColumnElement[Any], key: str, many: bool) -> ColumnElement[bool]:
    other = TAGS.postings.alias("t2")
    tag: ColumnElement[Any] = other.c.tag_id
    which = tag.in_(bindparam(key, expanding=True)) if many else tag == bindparam(key)
    return select(ONE).where(other.c.image_id == image_id, which).exists()


def _tag_probe(image_id: ColumnElement[Any], key: str) -> Select[Any]:
    other = TAGS.postings.alias("t2")
    return select(ONE).where(
        other.c.image_id == image_id, other.c.tag_id.in_(bindparam(key, expanding=True))
    )


def _tagged(image_id: ColumnElement[Any], public: bool) -> ColumnElement[bool]:
    """The label posting's image is among the tags' (:tags) images in scope, read once.

    Written `(image_id IN (SELECT ...)) IS TRUE`: PostgreSQL cannot pull a sublink under
    IS TRUE up into a (semi) join, so it reads the tags' postings once into a hash (a hashed
    SubPlan) and tests each label posting of the ordered scan against it, where a probe per
    posting touched pages of the 6M-row label table at random (2006 + animal, public, at 1M:
    28 ms against 7). SQLite builds the same set once as an ephemeral index.
    """
    tags = TAGS.postings.alias("t5")
    images = select(tags.c.image_id).where(
        tags.c.tag_id.in_(bindparam("tags", expanding=True)),
        *in_scope(TAGS, public, postings=tags),
    )
    return image_id.in_(images).is_(true())


def checked_per_row(probe: Select[Any]) -> ColumnElement[bool]:
    """EXISTS (probe), tested row by row in the outer statement's order.

    PostgreSQL turns a plain EXISTS into a semi join and may then drive from the probed
    table: all of a common tag's postings read and sorted (140 ms at 1M) where a LIMIT over
    the label's postings in order was meant to stop after a page. An OFFSET keeps it a
    subplan (PostgreSQL does not pull up a sublink with one); SQLite ignores it.
    """
    return probe.offset(0).exists()


def _has_exact_label(image_id: ColumnElement[Any]) -> ColumnElement[bool]:
    other = LABELS.postings.alias("l2")
    return (
        select(ONE)
        .where(
            other.c.image_id == image_id,
            other.c.label_id == bindparam("exact_label"),
            other.c.confidence >= bindparam("floor"),
        )
        .exists()
    )


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
        where.append(~_has_tag(tags.c.image_id, "exact_tag", False))
    if after:
        where.append(_below(score, _newer(tags.c.created_at, tags.c.image_id)))
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
        where.append(~_has_tag(tags.c.image_id, "exact_tag", False))
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
        statement = statement.having(_below(score, _newer(tags.c.created_at, tags.c.image_id)))
    return statement


def _label_range(public: bool, after: bool) -> list[ColumnElement[bool]]:
    """The labels' (:first) postings in scope at or above :floor (after a cursor: up to :top)."""
    labels = LABELS.postings
    index_range = [
        labels.c.label_id.in_(bindparam("first", expanding=True)),
        *in_scope(LABELS, public),
        *at_floor(LABELS),
    ]
    if after:  # an index range up to the cursor's confidence, then the exact test
        index_range.append(labels.c.confidence <= bindparam("top"))
    return index_range


@functools.lru_cache(maxsize=8)
def label_cutoff(public: bool, after: bool) -> Select[Any]:
    """The key (confidence, time, id) of the labels' posting :skip + 1 in order: a read of
    :skip postings stops before it (no row: they have no more than that)."""
    labels = LABELS.postings
    return (
        select(labels.c.confidence, labels.c.created_at, labels.c.image_id)
        .where(*_label_range(public, after))
        .order_by(*ranked_order(LABELS))
        .limit(1)
        .offset(bindparam("skip"))
    )


def _up_to_cutoff(labels: Any) -> list[ColumnElement[bool]]:
    """The postings before the cutoff (:kc, :kt, :ki) in order, the index range first."""
    confidence: ColumnElement[Any] = bindparam("kc", type_=Float())
    moment: ColumnElement[Any] = bindparam("kt")
    image_id: ColumnElement[Any] = bindparam("ki")
    same = labels.c.confidence == confidence
    return [
        labels.c.confidence >= confidence,
        or_(
            labels.c.confidence > confidence,
            same & (labels.c.created_at > moment),
            same & (labels.c.created_at == moment) & (labels.c.image_id > image_id),
        ),
    ]


@functools.lru_cache(maxsize=64)
def both_by_label(
    public: bool,
    after: bool,
    exact_tag: bool,
    exact_label: bool,
    hashed: bool = False,
    bounded: bool = False,
) -> Select[Any]:
    """The same class read from the labels' postings in scope, most confident first.

    Each image at its best label (:labels, at or above :floor) only, those of :first leading
    the scan; kept when it has a tag of :tags (and, without the exact tag, not that one) and
    the exact label or not: a LIMIT stops after a page when the tags are common. Each posting
    probes the tags. `hashed`: only the first :scan postings are read, each tested against
    the tags' images read once (the caller bounds their count). `bounded`: only the postings
    up to a cutoff (`label_cutoff`) are read, in the index's order (SQLite sorted the rows of
    a subquery with a LIMIT again, so it read them all: 122 ms against 19 ms). Fewer rows
    than the LIMIT then means "read the tags instead" (the rows found are still the best
    ones, the order being the same).
    """
    labels = LABELS.postings
    index_range = _label_range(public, after)
    rows: Any = labels
    where: list[ColumnElement[bool]] = index_range
    if bounded:
        where = [*index_range, *_up_to_cutoff(labels)]
    if hashed:
        columns = ("image_id", "created_at", "confidence", "label_id", "analyser")
        inner = select(*(labels.c[name] for name in columns)).where(*index_range)
        rows = inner.order_by(*ranked_order(LABELS)).limit(bindparam("scan")).subquery("l")
        where = []
    better = LABELS.postings.alias("l3")
    same = better.c.confidence == rows.c.confidence
    higher = or_(
        better.c.confidence > rows.c.confidence,
        same & (better.c.label_id > rows.c.label_id),
        same & (better.c.label_id == rows.c.label_id) & (better.c.analyser > rows.c.analyser),
    )
    best = (
        select(ONE)
        .where(
            better.c.image_id == rows.c.image_id,
            better.c.label_id.in_(bindparam("labels", expanding=True)),
            better.c.confidence >= bindparam("floor"),
            higher,
        )
        .exists()
    )
    has_exact_label = _has_exact_label(rows.c.image_id)
    tagged = _tagged(rows.c.image_id, public) if hashed else None
    where += [
        checked_per_row(_tag_probe(rows.c.image_id, "tags")) if tagged is None else tagged,
        has_exact_label if exact_label else ~has_exact_label,
        ~best,
    ]
    if not exact_tag:
        where.append(~_has_tag(rows.c.image_id, "exact_tag", False))
    weight: ColumnElement[Any] = literal_column(
        str(EXACT_WEIGHT * (int(exact_tag) + int(exact_label)))
    )
    score = weight + rows.c.confidence
    if after:
        where.append(_below(score, _newer(rows.c.created_at, rows.c.image_id)))
    order = [rows.c.confidence.desc(), rows.c.created_at.desc(), rows.c.image_id.desc()]
    return (
        select(rows.c.image_id.label("id"), rows.c.created_at, score.label("score"))
        .select_from(rows)
        .where(*where)
        .order_by(*order)
        .limit(bindparam("limit"))
    )
