"""A query whose one filter is a tag or a content label: vocabulary first, then postings.

The filter's names come from the vocabulary: the exact name, the names containing the term
(strong matches) and, when the strong ones run out, the names most similar to it (fuzzy,
`VOCABULARY_CANDIDATES` read by similarity, rescored by `ranking.value_score`). Each name's
postings are read in scope and in result order, at most a window of them, and merged here:

- a tag: exact tag 2, another containing tag 0 (then newest); similar: the name's score;
- a label: exact label 2 + its confidence, a containing label its confidence (the most
  confident of the image's containing labels); similar: the name's score + confidence / 1000.

An image counts once, at its best posting. A merged row is certain once no stream cut off by
its window could still hold a better one; else the windows grow. Past a cursor, the images
found are checked against all their postings, so one shown on an earlier page is not shown
again through a lesser name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bitimage.search import postings as sql
from bitimage.search.postings import BOUND, KEYSET, MAX_STREAMS, Postings
from bitimage.search.query import EXACT_WEIGHT, SearchDialect, like_pattern
from bitimage.search.ranking import EXACT, SUBSTRING, Position, value_score

STRONG, FUZZY = 2, 1
_SLACK = 1e-9  # the confidence bound is an index range; the exact test is done here
_SHAPES = (1, 2, 4, 8, 16, 24)  # how many streams one statement reads
_FUZZY_START = Position(FUZZY, float("inf"), "", "")  # before every fuzzy position


@dataclass(frozen=True)
class Name:
    """A vocabulary entry the filter matches: its id, tier and value score."""

    id: Any
    tier: int
    value: float

    def score(self, ranked: bool, confidence: float) -> float:
        """A posting's score under this name (see the module's docstring)."""
        if self.tier == STRONG:
            exact = EXACT_WEIGHT if self.value == EXACT else 0.0
            return exact + confidence if ranked else exact
        base = round(self.value, 4)
        return round(base + confidence / 1000, 7) if ranked else base

    def top(self, ranked: bool, score: float) -> float:
        """The highest confidence whose score is at most `score` (plus a little)."""
        if self.tier == STRONG:
            return score - (EXACT_WEIGHT if self.value == EXACT else 0.0) + _SLACK
        return (score - round(self.value, 4)) * 1000 + _SLACK


Similar = Callable[[Session, Postings, str], list[tuple[Any, str]]]


class PostingSearch:
    """Pages of one tag or label filter, read from the vocabulary and the scoped postings."""

    def __init__(self, dialect: SearchDialect, similar: Similar) -> None:
        self.dialect = dialect
        self.similar = similar

    def page(
        self,
        session: Session,
        kind: Postings,
        term: str,
        scope: dict[str, Any],
        after: Position | None,
        need: int,
        exact: bool = False,
    ) -> list[Position]:
        """Up to `need` positions after `after`, best first (`exact`: the one name only)."""
        if exact:  # a label word (search.ports.LabelWords): its own postings, nothing similar
            if after is not None and after.tier != STRONG:
                return []
            named = session.execute(sql.named(kind), {"name": term})
            names = [Name(entry, STRONG, EXACT) for entry, _ in named]
            return self._tier(session, kind, names, names, scope, after, need)
        rows = session.execute(sql.containing(kind), {"like": like_pattern(term)})
        strong = [Name(i, STRONG, value_score(term, name)) for i, name in rows]
        found: list[Position] = []
        if after is None or after.tier == STRONG:
            # The exact name's images rank above every other name's: often a page by itself.
            best = [name for name in strong if name.value == EXACT]
            if best and len(strong) > 1:
                found = self._tier(session, kind, best, strong, scope, after, need)
                if len(found) >= need:
                    return found
            found = self._tier(session, kind, strong, strong, scope, after, need)
            if len(found) >= need:
                return found
            after = _FUZZY_START  # the strong names ran out: every strong image is listed
        fuzzy = self.similar_names(session, kind, term, {n.id for n in strong})
        return found + self._tier(
            session, kind, fuzzy, strong + fuzzy, scope, after, need - len(found)
        )

    def similar_names(
        self, session: Session, kind: Postings, term: str, strong: set[Any]
    ) -> list[Name]:
        """The MAX_STREAMS names most similar to the term (none of the strong ones)."""
        names = []
        for entry, name in self.similar(session, kind, term):
            value = value_score(term, name)
            if entry not in strong and 0.0 < value < SUBSTRING:
                names.append(Name(entry, FUZZY, value))
        names.sort(key=lambda name: name.value, reverse=True)
        return names[:MAX_STREAMS]  # each read by itself: their scores differ

    def _tier(
        self,
        session: Session,
        kind: Postings,
        names: Sequence[Name],
        every: Sequence[Name],
        scope: dict[str, Any],
        after: Position | None,
        need: int,
    ) -> list[Position]:
        """The best `need` images of these names after `after` (each at its best posting)."""
        if not names:
            return []
        # Past a cursor a label's read drops rows (those at the cursor's own confidence, images
        # shown on an earlier page through another analyser's posting): a window of half a
        # page more mostly keeps a second, four times larger, read away (pages 2-3 of
        # `animal` at 1M: ~510 rows read and checked a page, p50 27 -> 13 ms public).
        window = need + 1 + (need // 2 if after is not None and kind.ranked else 0)
        while True:
            best, cut = self._read(session, kind, names, scope, after, window)
            ordered = sorted(best.values(), key=Position.sort_key, reverse=True)
            if cut is not None:
                ordered = [p for p in ordered if p.sort_key() >= cut.sort_key()]
            if after is not None:  # shown on an earlier page through a better name?
                ordered = self._unseen(session, kind, ordered, every, scope, after)
            if len(ordered) >= need or cut is None:
                return ordered[:need]
            window *= 4

    def _read(
        self,
        session: Session,
        kind: Postings,
        names: Sequence[Name],
        scope: dict[str, Any],
        after: Position | None,
        window: int,
    ) -> tuple[dict[str, Position], Position | None]:
        """Each image's best position among the names' windows, and the highest cut-off."""
        public = "owner" not in scope
        best: dict[str, Position] = {}
        cut: Position | None = None
        by_id = {name.id: name for name in names}
        if len(names) > MAX_STREAMS:  # strong names only: their order is the query's
            exact = next((n.id for n in names if n.value == EXACT), None)
            params = {**scope, "ids": list(by_id), "exact": exact, "window": window}
            batches: list[Sequence[Any]] = [session.execute(sql.merged(kind, public), params).all()]
        else:
            afters: list[str | None] = []
            params = {**scope, "window": window}
            for name in names:
                form, values = self._after(kind, name, after)
                if form == "skip":
                    continue
                n = len(afters)
                afters.append(form)
                params.update(
                    {f"{key}{n}": value for key, value in values.items()}, **{f"e{n}": name.id}
                )
            # Padded with empty streams (no name): a few statement shapes, each compiled once.
            size = next((size for size in _SHAPES if size >= len(afters)), len(afters))
            for n in range(len(afters), size if afters else 0):
                afters.append(None)
                params[f"e{n}"] = None
            batches = []
            if afters:  # one statement, each name's window its own index range
                statement = sql.streams(kind, public, tuple(afters))
                grouped: dict[Any, list[Any]] = {}
                for row in session.execute(statement, params):
                    grouped.setdefault(row[3], []).append(row)
                batches = list(grouped.values())
        for rows in batches:
            last: Position | None = None  # the stream's lowest row (its order is the ranking's)
            for image_id, created_at, confidence, entry in rows:
                name = by_id[entry]
                score = name.score(kind.ranked, float(confidence))
                here = self.dialect.position(name.tier, score, created_at, image_id)
                last = here if last is None or here.sort_key() < last.sort_key() else last
                if after is not None and here.sort_key() >= after.sort_key():
                    continue
                seen = best.get(here.image_id)
                if seen is None or here.sort_key() > seen.sort_key():
                    best[here.image_id] = here
            if len(rows) == window and last is not None:
                cut = last if cut is None or last.sort_key() > cut.sort_key() else cut
        return best, cut

    def _after(
        self, kind: Postings, name: Name, after: Position | None
    ) -> tuple[str | None, dict[str, Any]]:
        """How one name's stream starts after the cursor: all, keyset, bound, or skip."""
        if after is None or name.tier < after.tier:
            return None, {}
        if name.tier > after.tier:
            return "skip", {}
        if kind.ranked:
            return BOUND, {"top": name.top(True, after.score)}
        score = name.score(False, 0.0)
        if score > after.score:
            return "skip", {}
        if score < after.score:
            return None, {}
        return KEYSET, {
            "c": self.dialect.time_value(after.created_at),
            "i": self.dialect.id_value(after.image_id),
        }

    def _unseen(
        self,
        session: Session,
        kind: Postings,
        found: list[Position],
        every: Sequence[Name],
        scope: dict[str, Any],
        after: Position,
    ) -> list[Position]:
        """The positions whose image has no better posting at or before the cursor."""
        # Only a name that can score at or above the cursor can have shown an image before.
        limit = after.sort_key()[:2]
        by_id = {
            name.id: name for name in every if (name.tier, name.score(kind.ranked, 1.0)) >= limit
        }
        if not found or not by_id:
            return found
        params = {
            "images": [self.dialect.id_value(p.image_id) for p in found],
            "ids": list(by_id),
            **({"floor": scope["floor"]} if kind.ranked else {}),
        }
        mine = {p.image_id: p for p in found}
        shown: set[str] = set()
        for image_id, entry, confidence in session.execute(sql.of_images(kind), params):
            name = by_id[entry]
            score = name.score(kind.ranked, float(confidence))
            image = mine[uuid.UUID(str(image_id)).hex]
            probe = Position(name.tier, score, image.created_at, image.image_id)
            if probe.sort_key() >= after.sort_key():
                shown.add(image.image_id)
        return [p for p in found if p.image_id not in shown]
