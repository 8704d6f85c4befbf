"""A tag and a label filter together: strong matches, class by class, from the cheaper postings.

An image's strong score is 2 per exact name (tag, label) plus its best containing label's
confidence (at most 1), so the classes (exact tag and exact label: 4 and more; one exact
name: 2 to 3; none: under 2) are ranked one after the other, each by confidence, then newest.
Each class is read from whichever postings bound it best: the tag's postings in scope joined to
the labels' postings in scope (few tags: one index probe per tag posting; many: a hash join of
both scoped indexes, read without the table), or one label's postings in confidence order, each
checked for the tags, so a LIMIT stops after a page: about page * labels / tags postings read
(tested against the tags' images read once while those are few; else one probe each).
The labels lead when the tags are many and the label filter names one label (several labels'
postings have no common order: they would all be read and sorted). The classes below are only
read when the ones above leave the page short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from bitimage.search import postings_both as both_sql
from bitimage.search import postings_by_label as by_label
from bitimage.search.postings import LABELS, TAGS, Vocabulary, names_of
from bitimage.search.query import EXACT_WEIGHT, SearchDialect
from bitimage.search.ranking import Position

STRONG = 2
FEW_TAGS = 3000  # several labels: more tag postings in scope than this, the tags lead
SCAN = 20_000  # one label: more tag postings than this are probed, not read once
LABEL_ROWS_PER_TAG = 10  # one label, hashed: its postings read per tag posting, at most
SAMPLE = 500  # one label, probed: its first postings read to see how common the tags are
PROBED_PER_TAG = 4  # one label, probed: its postings read per tag posting, at most
PROBES = 8_000  # tag postings probed one by one for their labels (PostgreSQL), at most
_SLACK = 1e-9  # the confidence bound is an index range; the exact test is on the score
# Best first: (exact tag, exact label) per class; the classes with one exact name interleave.
_CLASSES = (((True, True),), ((True, False), (False, True)), ((False, False),))


class _Member(NamedTuple):
    """One class member's read: the transaction, its statements' shape, values and scope."""

    session: Session
    shape: tuple[bool, bool, bool, bool]
    values: dict[str, Any]
    scope: dict[str, Any]


def _by_label(
    session: Session, shape: tuple[bool, bool, bool, bool], values: dict[str, Any], **read: bool
) -> Sequence[Any]:
    """A class's rows read from the label's postings (`values`: the statement's).

    Reading the exact label alone needs no probe for it (each posting is one). On a first
    page of it, neither for a better posting of the same image (another analyser's): in
    confidence order that one comes first, so later ones are dropped here, a tenth more
    rows read for them (when they were more, the page is read again with the probe).
    """
    alone = shape[3] and values["first"] == [values["exact_label"]]
    if alone and not shape[1]:
        limit = values["limit"]
        more = {**values, "limit": limit + limit // 10 + 1}
        statement = by_label.both_by_label(*shape, alone=True, once=False, **read)
        rows = session.execute(statement, more).all()
        kept, seen = [], set()
        for row in rows:  # an image's first row is its best
            if row[0] not in seen:
                seen.add(row[0])
                kept.append(row)
        if len(kept) >= limit or len(rows) < more["limit"]:
            return kept[:limit]
    return session.execute(by_label.both_by_label(*shape, alone=alone, **read), values).all()


def _weight(members: tuple[tuple[bool, bool], ...]) -> int:
    exact_tag, exact_label = members[0]
    return EXACT_WEIGHT * (int(exact_tag) + int(exact_label))


class CombinedSearch:
    """Pages of strong matches of one tag and one label filter."""

    def __init__(self, dialect: SearchDialect, lateral: bool = False, hashes: bool = False) -> None:
        self.dialect = dialect
        self.hashes = hashes  # an IN sublink is read once into a hash (PostgreSQL)
        # The tags' postings lead: probed per posting (LATERAL) where the database can.
        self.by_tags = both_sql.both_per_tag if lateral else both_sql.both

    def page(
        self,
        session: Session,
        terms: dict[str, str],
        scope: dict[str, Any],
        after: Position | None,
        need: int,
        exact_label: bool = False,
        read: Vocabulary | None = None,
    ) -> list[Position]:
        """Up to `need` strong positions after `after`, best first (`exact_label`: that one;
        `read`: the vocabulary's names this search read already)."""
        read = {} if read is None else read
        names: dict[str, tuple[list[Any], Any]] = {}
        for kind in (TAGS, LABELS):
            # A label word: that label alone.
            matched = names_of(
                session, kind, terms[kind.field], kind is LABELS and exact_label, read
            )
            if not matched:
                return []
            exact = next((entry for entry, name in matched if name == terms[kind.field]), None)
            names[kind.field] = ([entry for entry, _ in matched], exact)
        tags, exact_tag = names["tag"]
        labels, exact_label = names["label"]
        tag_sets = {True: [exact_tag] if exact_tag is not None else [],
                    False: [t for t in tags if t != exact_tag]}  # fmt: skip
        first = {True: labels, False: [entry for entry in labels if entry != exact_label]}
        params = {**scope, "labels": labels, "exact_tag": exact_tag, "exact_label": exact_label}
        if after is not None:
            params.update(
                s=after.score,
                c=self.dialect.time_value(after.created_at),
                i=self.dialect.id_value(after.image_id),
            )
        public = "owner" not in scope
        found: list[Position] = []
        for members in _CLASSES:
            weight = _weight(members)
            if after is not None and after.score < weight:
                continue  # shown on an earlier page
            cursor = after is not None and after.score < weight + 1 + _SLACK
            rows: list[Position] = []
            for exact_tag_class, exact_label_class in members:
                class_tags = tag_sets[exact_tag_class]
                class_first = first[exact_label_class]
                if not class_tags or not class_first or (exact_label_class and exact_label is None):
                    continue
                values = {**params, "tags": class_tags, "first": class_first,
                          "limit": need - len(found)}  # fmt: skip
                if cursor and after is not None:
                    values["top"] = after.score - weight + _SLACK
                shape = (public, cursor, exact_tag_class, exact_label_class)
                found_rows = self._read(session, shape, values, scope, need)
                rows += [self.dialect.position(STRONG, float(s), c, i) for i, c, s in found_rows]
            rows.sort(key=Position.sort_key, reverse=True)
            found += rows[: need - len(found)]
            if len(found) >= need:
                break
        return found

    def _read(
        self,
        session: Session,
        shape: tuple[bool, bool, bool, bool],
        values: dict[str, Any],
        scope: dict[str, Any],
        need: int,
    ) -> Sequence[Any]:
        """One class member's rows, from whichever postings cost less to read.

        The tags' postings in scope are counted (up to SCAN). Few: they are read, each joined
        to its labels. Else, for one label, its postings are read in confidence order
        (`_hashed` on PostgreSQL, `_sampled` on SQLite), and the tags after all when those
        fall short.
        """
        public = shape[0]
        counted = {**scope, "tags": values["tags"], "cap": SCAN + 1}
        count = session.execute(both_sql.tag_count(public), counted).scalar_one()
        labels = values["first"]
        if count > need and len(labels) == 1:
            if count > SCAN:  # too many tags to read: the label's postings in order, whole
                return _by_label(session, shape, values)
            read = self._hashed if self.hashes else self._sampled
            rows = read(_Member(session, shape, values, scope), count)
            if rows is not None:
                return rows
        elif count > need and self._labels_lead(session, public, scope, labels, count, need):
            return _by_label(session, shape, values)
        # Probed per tag posting while they are few; many: both postings hashed and joined.
        by_tags = self.by_tags if count <= PROBES else both_sql.both
        return session.execute(by_tags(*shape), values).all()

    def _hashed(self, member: _Member, count: int) -> Sequence[Any] | None:
        """The label's postings, at most LABEL_ROWS_PER_TAG per tag posting, tested against
        the tags' images read once into a hash (PostgreSQL): a page there, or the label read
        whole, is the answer (None: read the tags). A class then costs at most about twice
        its tags' read, however tags and labels correlate; mostly a fraction of it."""
        session, shape, values, scope = member
        scan = count * LABEL_ROWS_PER_TAG
        rows = _by_label(session, shape, {**values, "scan": scan}, hashed=True)
        if len(rows) >= values["limit"]:
            return rows
        fewer = {**scope, "first": values["first"], "cap": scan + 1}
        if session.execute(both_sql.label_count(shape[0]), fewer).scalar_one() <= scan:
            return rows  # every posting of the label was read
        return None

    def _sampled(self, member: _Member, count: int) -> Sequence[Any] | None:
        """The label's first SAMPLE postings, each probing the tags: a page there ends it.

        Otherwise the sample tells how many of the label's postings a page would take (the
        tags' share among them); the label's postings are read in order, twice as many as
        that and at most PROBED_PER_TAG per tag posting, when a page looks likely among them
        (or the label has no more postings than that). A label posting and its probe cost
        about a quarter of a tag posting joined to its labels (SQLite, 2010 + animal for one
        user of 100,000: 2,792 postings probed in 1.9 ms, the tag's 3,749 joined in 14 ms),
        so a miss costs about as much again as the tags' read. None: read the tags (it does
        not look cheaper, or fell short).
        """
        session, shape, values, scope = member
        sample = min(SAMPLE, count)
        rows, whole = self._first(member, sample)
        limit = values["limit"]
        if len(rows) >= limit or whole:
            return rows
        budget = count * PROBED_PER_TAG
        expected = limit * sample / len(rows) if rows else float("inf")
        if expected < budget:  # up to twice the estimate: the cutoff's OFFSET reads them too
            scan = min(budget, math.ceil(2 * expected))
        else:  # unless the label has no more postings than that
            fewer = {**scope, "first": values["first"], "cap": budget + 1}
            if session.execute(both_sql.label_count(shape[0]), fewer).scalar_one() > budget:
                return None
            scan = budget
        rows, whole = self._first(member, scan)
        if len(rows) >= limit or whole:
            return rows
        return None

    def _first(self, member: _Member, scan: int) -> tuple[Sequence[Any], bool]:
        """The class's rows among the label's first `scan` postings; True: those were all."""
        session, shape, values, _ = member
        public, after = shape[0], shape[1]
        skip = {**values, "skip": scan}
        cut = session.execute(by_label.label_cutoff(public, after), skip).first()
        if cut is None:  # no more postings than that: all of them
            return _by_label(session, shape, values), True
        bound = {**values, "kc": cut[0], "kt": cut[1], "ki": cut[2]}
        return _by_label(session, shape, bound, bounded=True), False

    def _labels_lead(
        self,
        session: Session,
        public: bool,
        scope: dict[str, Any],
        labels: list[Any],
        count: int,
        need: int,
    ) -> bool:
        """Several labels: whether reading their postings costs less than the tags'."""
        if count > FEW_TAGS:
            # Several labels' postings would be read whole and sorted: then both postings are
            # read from their scoped indexes alone and joined (a hash join).
            return False
        cap = count * count // need  # the labels' postings the label scan may read
        values = {**scope, "first": labels, "cap": cap + 1}
        return bool(session.execute(both_sql.label_count(public), values).scalar_one() <= cap)
