"""A tag and a label filter's class read from one label's postings in confidence order.

Each posting is checked for the tags: probed per posting, or (PostgreSQL) tested against the
tags' images read once into a hash; a LIMIT stops the read after a page (search/combined.py).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, bindparam, literal_column, or_, select, true

from bitimage.search.postings import LABELS, TAGS, at_floor, in_scope, ranked_order
from bitimage.search.postings_both import below, checked_per_row, has_tag, newer
from bitimage.search.query import EXACT_WEIGHT, ONE


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
    28 ms against 7). Not used on SQLite: its set (an ephemeral index) cost more than its
    probes there (`bounded` instead).
    """
    tags = TAGS.postings.alias("t5")
    images = select(tags.c.image_id).where(
        tags.c.tag_id.in_(bindparam("tags", expanding=True)),
        *in_scope(TAGS, public, postings=tags),
    )
    return image_id.in_(images).is_(true())


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


def _label_range(public: bool, after: bool, floor: bool = True) -> list[ColumnElement[bool]]:
    """The labels' (:first) postings in scope at or above :floor (after a cursor: up to :top;
    `floor` False: the caller bounds the confidence from below itself)."""
    labels = LABELS.postings
    index_range = [
        labels.c.label_id.in_(bindparam("first", expanding=True)),
        *in_scope(LABELS, public),
        *(at_floor(LABELS) if floor else []),
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


@functools.lru_cache(maxsize=128)
def both_by_label(
    public: bool,
    after: bool,
    exact_tag: bool,
    exact_label: bool,
    hashed: bool = False,
    bounded: bool = False,
    alone: bool = False,
    once: bool = True,
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
    ones, the order being the same). `alone`: :first is the exact label alone, so every
    posting read is of it and the probe for it is left out. `once` False: an image's other
    postings are not probed for a better one (the caller keeps each image's first row).
    """
    labels = LABELS.postings
    index_range = _label_range(public, after)
    rows: Any = labels
    where: list[ColumnElement[bool]] = index_range
    if bounded:
        # The cutoff's confidence (at or above the floor) is the range's only lower bound:
        # given both, SQLite took the floor as the bound of its descending scan, so it read
        # the label's every posting down to it, not the :skip before the cutoff (2010 +
        # animal, one user of 100,000: 500 postings in 7.9 ms against 0.4 ms).
        where = [*_label_range(public, after, floor=False), *_up_to_cutoff(labels)]
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
    where.append(checked_per_row(_tag_probe(rows.c.image_id, "tags")) if tagged is None else tagged)
    if once:
        where.append(~best)
    if not alone:
        where.append(has_exact_label if exact_label else ~has_exact_label)
    if not exact_tag:
        where.append(~has_tag(rows.c.image_id, "exact_tag", False))
    weight: ColumnElement[Any] = literal_column(
        str(EXACT_WEIGHT * (int(exact_tag) + int(exact_label)))
    )
    score = weight + rows.c.confidence
    if after:
        where.append(below(score, newer(rows.c.created_at, rows.c.image_id)))
    order = [rows.c.confidence.desc(), rows.c.created_at.desc(), rows.c.image_id.desc()]
    return (
        select(rows.c.image_id.label("id"), rows.c.created_at, score.label("score"))
        .select_from(rows)
        .where(*where)
        .order_by(*order)
        .limit(bindparam("limit"))
    )
