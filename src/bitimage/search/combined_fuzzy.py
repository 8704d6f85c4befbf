"""A tag and a label word together: their typo tier, read from the vocabulary and the postings.

When the label filter resolves to a label word (search.ports.LabelWords), a fuzzy match is an
image with that label (at or above the floor) and a tag similar to the tag term but containing
none of it (an image with a containing tag is a strong match). Its score, as the generic tier
ranks it (`TieredSearchIndex._rank_fuzzy`), is the tag's value score plus the label's exact
score, plus the label's confidence / 1000: so the images rank by their best similar tag, then
by confidence, then newest.

The similar tags are the vocabulary's names most similar to the term (`PostingSearch`'s
`similar_names`, at most MAX_STREAMS). Their postings in scope are counted (up to RARE each):
a rare tag's images with the label are all read at once, joined to their labels (both scoped
postings hashed when the label has fewer than FEW_LABELS postings in scope, as an owner's label
mostly has; else, on PostgreSQL, each tag posting probing its image's labels; on SQLite the
label's postings lead, each probing its image's tags, when they are fewer than the rare tags'
in scope, and else each tag posting probes its image's labels); a common
tag's are read from the label's postings in confidence order, each checked for the tag, with
a LIMIT, most similar tag first, until FUZZY_CANDIDATES images are found (a first page: until
the page is); with MANY_COMMON common tags or more and a label of fewer than FEW_LABELS
postings in scope, those are read once instead, each with the common tags its image has. So no
statement reads more than RARE postings per rare tag, FEW_LABELS of the label's, or a LIMIT's
worth.

What it may miss, as the generic tier's 400 candidates may: past FUZZY_CANDIDATES images,
the lower ones (a deep page of typo matches ends there); a tag similar to the term that is not
among the MAX_STREAMS most similar names of the vocabulary.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    TextClause,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from bitimage.search.hints import unindexed
from bitimage.search.postings import LABELS, TAGS, Vocabulary, in_scope, names_of
from bitimage.search.postings_both import checked_per_row, label_count
from bitimage.search.query import FUZZY_CANDIDATES, ONE, SearchDialect
from bitimage.search.ranking import EXACT, Position
from bitimage.search.streams import FUZZY, Name, PostingSearch

RARE = 1_000  # a tag with fewer postings in scope is read whole, joined to its labels
FEW_LABELS = 10_000  # a label with fewer postings in scope is read whole with the common tags,
MANY_COMMON = 3  # when at least this many common tags would each scan its postings
LABELS_LEAD = 1  # SQLite: the label's postings lead when fewer than the rare tags' times this
_SHAPES = (1, 2, 4, 8, 16, 24)  # counts one statement reads: a few shapes, compiled once


def _no_strong_tag(image_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The image has no tag containing the term (:strong): else it is a strong match."""
    other = TAGS.postings.alias("t2")
    strong = other.c.tag_id.in_(bindparam("strong", expanding=True))
    return ~select(ONE).where(other.c.image_id == image_id, strong).exists()


@functools.lru_cache(maxsize=16)
def _counts(public: bool, size: int) -> CompoundSelect[Any]:
    """Each tag's (:t<n>) postings in scope, counted up to :rare."""
    tags = TAGS.postings
    members = []
    for n in range(size):
        some = select(ONE).where(
            tags.c.tag_id == bindparam(f"t{n}"), *in_scope(TAGS, public, postings=tags)
        )
        counted = select(func.count()).select_from(some.limit(bindparam("rare")).subquery())
        members.append(select(literal_column(str(n)).label("k"), counted.scalar_subquery()))
    return union_all(*members)


def _counts_of_array(public: bool) -> TextClause:
    """`_counts` over an array of the tags (:ids), one subquery planned once (PostgreSQL).

    The union of 24 members took PostgreSQL 2.5 ms to plan, twice as long as to run.
    """
    scope = "t.visible" if public else "t.user_id = :owner"
    return text(
        f"SELECT n.k - 1, (SELECT count(*) FROM (SELECT 1 FROM {TAGS.postings.name} t "  # noqa: S608 - fixed names
        f"WHERE t.tag_id = n.id AND {scope} LIMIT :rare) c) "
        "FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS n(id, k)"
    )


_COUNTS_OF_ARRAY = {public: _counts_of_array(public) for public in (True, False)}


@functools.lru_cache(maxsize=4)
def _rare(public: bool) -> Select[Any]:
    """The images of the rare tags (:tags) with the label (:label), each posting joined."""
    tags, labels = TAGS.postings, LABELS.postings
    return (
        select(tags.c.image_id, tags.c.created_at, tags.c.tag_id, labels.c.confidence)
        .select_from(tags.join(labels, labels.c.image_id == tags.c.image_id))
        .where(
            tags.c.tag_id.in_(bindparam("tags", expanding=True)),
            *in_scope(TAGS, public, postings=tags),
            # The labels probed by image (their primary key): SQLite with statistics would
            # rather read the label's postings and probe the tags (38 ms against 2 at 1M).
            unindexed(labels.c.label_id) == bindparam("label"),
            *in_scope(LABELS, public, unindexed, postings=labels),
            unindexed(labels.c.confidence) >= bindparam("floor"),
            _no_strong_tag(tags.c.image_id),
        )
    )


@functools.lru_cache(maxsize=4)
def _rare_per_tag(public: bool) -> Select[Any]:
    """`_rare`, each tag posting's label probed by its image (LATERAL, PostgreSQL).

    PostgreSQL hashed every posting of a common label (`gray`, public) for the rare tags'
    few thousand postings: 30 ms at 1M images; probed per posting, their count bounds it.
    """
    tags, labels = TAGS.postings, LABELS.postings.alias("l")
    best = (
        select(func.max(labels.c.confidence).label("conf"))
        .where(
            labels.c.image_id == tags.c.image_id,
            labels.c.label_id == bindparam("label"),
            *in_scope(LABELS, public, postings=labels),
            labels.c.confidence >= bindparam("floor"),
        )
        .lateral("lc")
    )
    return (
        select(tags.c.image_id, tags.c.created_at, tags.c.tag_id, best.c.conf)
        .select_from(tags.join(best, true()))
        .where(
            tags.c.tag_id.in_(bindparam("tags", expanding=True)),
            *in_scope(TAGS, public, postings=tags),
            best.c.conf.is_not(None),
            _no_strong_tag(tags.c.image_id),
        )
    )


@functools.lru_cache(maxsize=4)
def _common(public: bool) -> Select[Any]:
    """The label's (:label) postings in scope, most confident first, whose image has :tag.

    Each image once, at its most confident posting of the label (two analysers may give it):
    so the LIMIT counts images.
    """
    labels = LABELS.postings
    other = TAGS.postings.alias("t3")
    tag = other.c.tag_id == bindparam("tag")
    tagged = select(ONE).where(other.c.image_id == labels.c.image_id, tag)
    better = LABELS.postings.alias("l5")
    same = better.c.confidence == labels.c.confidence
    higher = or_(
        better.c.confidence > labels.c.confidence, same & (better.c.analyser > labels.c.analyser)
    )
    outdone = select(ONE).where(
        better.c.image_id == labels.c.image_id, better.c.label_id == bindparam("label"), higher
    )
    return (
        select(labels.c.image_id, labels.c.created_at, labels.c.confidence)
        .where(
            labels.c.label_id == bindparam("label"),
            *in_scope(LABELS, public, postings=labels),
            labels.c.confidence >= bindparam("floor"),
            checked_per_row(tagged),
            ~outdone.exists(),
            _no_strong_tag(labels.c.image_id),
        )
        .order_by(labels.c.confidence.desc(), labels.c.created_at.desc(), labels.c.image_id.desc())
        .limit(bindparam("limit"))
    )


@functools.lru_cache(maxsize=4)
def _by_label(public: bool) -> Select[Any]:
    """Each of the label's postings in scope with its image's tags among :tags (a few labels)."""
    labels, tags = LABELS.postings, TAGS.postings.alias("t4")
    return (
        select(labels.c.image_id, labels.c.created_at, tags.c.tag_id, labels.c.confidence)
        .select_from(labels.join(tags, tags.c.image_id == labels.c.image_id))
        .where(
            labels.c.label_id == bindparam("label"),
            *in_scope(LABELS, public, postings=labels),
            labels.c.confidence >= bindparam("floor"),
            # The tags probed by image (their primary key), not read by name: SQLite too.
            unindexed(tags.c.tag_id).in_(bindparam("tags", expanding=True)),
            # Tested on the tag's row: only for the postings whose image has one of the tags
            # (SQLite evaluates it in the loop of the table it names; a probe per strong tag).
            _no_strong_tag(tags.c.image_id),
        )
    )


class CombinedFuzzy:
    """The typo tier of a tag filter with a label word."""

    def __init__(
        self, dialect: SearchDialect, postings: PostingSearch, lateral: bool = False
    ) -> None:
        self.dialect = dialect
        self.postings = postings
        self.lateral = lateral  # PostgreSQL: LATERAL (_rare_per_tag), arrays (_counts_of_array)

    def page(
        self,
        session: Session,
        terms: dict[str, str],
        scope: dict[str, Any],
        after: Position | None,
        need: int,
        read: Vocabulary | None = None,
    ) -> list[Position]:
        """Up to `need` fuzzy positions after `after` (None: the tier's start), best first
        (`read`: the vocabulary's names this search read already)."""
        read = {} if read is None else read
        labels = names_of(session, LABELS, terms["label"], True, read)
        if not labels or need <= 0:
            return []
        label = labels[0]
        term = terms["tag"]
        strong = [i for i, _ in names_of(session, TAGS, term, False, read)]
        names = self.postings.similar_names(session, TAGS, term, set(strong))
        if not names:
            return []
        public = "owner" not in scope
        values = {**scope, "label": label[0], "strong": strong}
        # A first page needs the best `need` only; past a cursor the best FUZZY_CANDIDATES are
        # ranked and cut at the cursor, as the generic tier does: the same order either way.
        cap = min(need, FUZZY_CANDIDATES) if after is None else FUZZY_CANDIDATES
        counts = self._counts(session, public, scope, names)
        best: dict[str, Position] = {}
        rare = [name for name in names if counts[name.id] < RARE]
        common = {name.id: name for name in names if counts[name.id] >= RARE}
        few = None  # whether the label has fewer than FEW_LABELS postings in scope
        if (rare and self.lateral) or len(common) >= MANY_COMMON:
            few = self._few_labelled(session, scope, label[0])
        if rare:
            by_id = {name.id: name for name in rare}
            # Few label postings: both scoped postings hashed and joined (an owner's label, at
            # most their images: 3 ms where probing per tag posting took 80 at 1M); many:
            # each tag posting probes its image's labels (LATERAL, PostgreSQL).
            statement = _rare(public) if few or not self.lateral else _rare_per_tag(public)
            tagged = sum(counts[name.id] for name in rare) * LABELS_LEAD
            if not self.lateral and self._few_labelled(session, scope, label[0], tagged):
                # SQLite, a label with fewer postings in scope than the rare tags: those lead,
                # each probing its image's tags (`2011` + `african rock python`, one owner of
                # 100,000: 24,000 tag postings each probing the labels, 17 ms).
                statement = _by_label(public)
            rows = session.execute(statement, {**values, "tags": list(by_id)})
            for image_id, created_at, tag_id, confidence in rows:
                self._keep(best, by_id[tag_id], created_at, image_id, confidence)
        if len(common) >= MANY_COMMON and few:
            # Several common tags and a label of not so many postings: those are read whole,
            # each with the common tags its image has (one probe each), not scanned per tag.
            rows = session.execute(_by_label(public), {**values, "tags": list(common)})
            for image_id, created_at, tag_id, confidence in rows:
                self._keep(best, common[tag_id], created_at, image_id, confidence)
            common = {}
        for name in names:  # most similar first; a common tag read up to the candidates' count
            if name.id not in common:
                continue
            # Enough images already rank above anything this tag (and every later one) gives.
            above = sum(1 for p in best.values() if p.score > _score(name, 1.0))
            if above >= cap:
                break
            params = {**values, "tag": name.id, "limit": cap}
            for image_id, created_at, confidence in session.execute(_common(public), params):
                self._keep(best, name, created_at, image_id, confidence)
        found = sorted(best.values(), key=Position.sort_key, reverse=True)[:FUZZY_CANDIDATES]
        if after is not None:
            found = [p for p in found if p.sort_key() < after.sort_key()]
        return found[:need]

    def _few_labelled(
        self, session: Session, scope: dict[str, Any], label: Any, cap: int = FEW_LABELS
    ) -> bool:
        """Whether the label has fewer than `cap` postings in scope (counted up to that)."""
        counted = {**scope, "first": [label], "cap": cap}
        statement = label_count("owner" not in scope)
        return bool(session.execute(statement, counted).scalar_one() < cap)

    def _counts(
        self, session: Session, public: bool, scope: dict[str, Any], names: Sequence[Name]
    ) -> dict[Any, int]:
        if self.lateral:  # PostgreSQL: the tags as one array
            ids = {**scope, "ids": [name.id for name in names], "rare": RARE}
            rows = session.execute(_COUNTS_OF_ARRAY[public], ids)
            counted = {int(k): int(c) for k, c in rows}
            return {name.id: counted[n] for n, name in enumerate(names)}
        size = next((size for size in _SHAPES if size >= len(names)), len(names))
        params: dict[str, Any] = {**scope, "rare": RARE}
        for n in range(size):  # padded with a repeated tag: its count is read twice
            name = names[min(n, len(names) - 1)]
            params[f"t{n}"] = name.id
        rows = session.execute(_counts(public, size), params)
        counted = {int(k): int(c) for k, c in rows}
        return {name.id: counted[n] for n, name in enumerate(names)}

    def _keep(
        self, best: dict[str, Position], name: Name, created_at: Any, image_id: Any, confidence: Any
    ) -> None:
        """The image at its best: the most similar tag, then its most confident label."""
        here = self.dialect.position(FUZZY, _score(name, float(confidence)), created_at, image_id)
        seen = best.get(here.image_id)
        if seen is None or here.sort_key() > seen.sort_key():
            best[here.image_id] = here


def _score(name: Name, confidence: float) -> float:
    """The generic tier's score: the tag's and the label's value, then confidence / 1000."""
    return round(round(name.value + EXACT, 4) + confidence / 1000, 7)
