"""bench_search.py's queries: terms drawn from the generated photos, and the timed kinds.

Terms of each kind come from a sample of the photos written: 50 distinct ones (the 25 most
frequent and 25 others), drawn Zipf-weighted by frequency rank, so common tags and labels
come up often and rare ones too. Every query goes through `container.search.summaries`,
the call both summary routes make, in a read transaction.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from bitimage.bootstrap import Container
from bitimage.search.ports import SearchQuery

try:
    from bench._search_data import Photo, Zipf
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _search_data import Photo, Zipf  # type: ignore[import-not-found,no-redef]

LETTERS = "abcdefghijklmnopqrstuvwxyz"
POOL = 50
UNFILTERED = "unfiltered newest first"
LIMIT = 100


@dataclass(frozen=True)
class Sample:
    """What queries need of one written photo."""

    user_id: uuid.UUID
    name: str
    public: bool
    tags: tuple[str, ...]
    labels: tuple[str, ...]
    text: str


@dataclass
class Samples:
    """Every `every`-th photo written, kept for drawing query terms."""

    every: int
    kept: list[Sample] = field(default_factory=list)
    seen: int = 0

    def add(self, photo: Photo, flagged: bool) -> None:
        """Keep the photo if its turn has come."""
        self.seen += 1
        if self.seen % self.every == 0:
            public = not photo.is_private and not flagged
            labels = tuple(sorted(photo.labels))
            sample = Sample(
                photo.user_id, photo.name, public, tuple(photo.tags), labels, photo.text
            )
            self.kept.append(sample)


def typo(rng: random.Random, word: str) -> str:
    """The word with one of its letters (or digits, when it has none) changed."""
    places = [i for i, ch in enumerate(word) if ch in LETTERS] or [
        i for i, ch in enumerate(word) if ch.isdigit()
    ]
    at = rng.choice(places)
    alphabet = LETTERS if word[at] in LETTERS else "0123456789"
    return word[:at] + rng.choice([c for c in alphabet if c != word[at]]) + word[at + 1 :]


def _pool(terms: Iterable[str], rng: random.Random) -> Zipf:
    counts = Counter(terms)
    ranked = [term for term, _ in counts.most_common()]
    rest = ranked[POOL // 2 :]
    chosen = ranked[: POOL // 2] + sorted(rng.sample(rest, min(len(rest), POOL - POOL // 2)))
    chosen.sort(key=lambda term: -counts[term])
    return Zipf(chosen, 1.0)


def _name_words(name: str) -> list[str]:
    if "_" in name or not name.islower():
        return []  # a camera's file name
    stem = name.rsplit(".", 1)[0]
    return [w for w in stem.split() if w.isalpha() and len(w) >= 4]


Make = Callable[[uuid.UUID | None], list[SearchQuery]]


class Kinds:
    """Each kind of query: a function of the owner (None: public) giving the queries to time."""

    def __init__(
        self, samples: list[Sample], seed: int, run_query: Callable[[SearchQuery], str | None]
    ) -> None:
        self.rng = rng = random.Random(seed)
        self.run_query = run_query
        self.words = _pool((w for s in samples for w in _name_words(s.name)), rng)
        self.tags = _pool((t for s in samples for t in s.tags), rng)
        self.labels = _pool((label for s in samples for label in s.labels), rng)
        self.text = _pool((w for s in samples for w in s.text.lower().split() if w.isalpha()), rng)
        self.pairs = _pool(
            (f"{t}\n{lb}" for s in samples for t in s.tags[:1] for lb in s.labels[:2]), rng
        )
        self.names: dict[uuid.UUID | None, list[str]] = {
            None: [s.name for s in samples if s.public]
        }
        for s in samples:
            self.names.setdefault(s.user_id, []).append(s.name)
        self.every_name = [s.name for s in samples]  # for an owner none of whose photos is kept
        self.common_tag = self.tags.values[0]
        self.cursors: dict[tuple[uuid.UUID | None, str, str], list[SearchQuery]] = {}

    def draw(self, pool: Zipf) -> str:
        """One term of the pool."""
        return pool.draw(self.rng)[0]

    def kinds(self) -> dict[str, Make]:
        """Every kind, by its name in the table."""
        rng, q = self.rng, _query
        return {
            UNFILTERED: lambda o: [q(o)],
            "name word": lambda o: [q(o, name=self.draw(self.words))],
            "name exact": lambda o: [q(o, name=rng.choice(self.names.get(o) or self.every_name))],
            "name one typo": lambda o: [q(o, name=typo(rng, self.draw(self.words)))],
            "tag exact": lambda o: [q(o, tag=self.draw(self.tags))],
            "tag one typo": lambda o: [q(o, tag=typo(rng, self.draw(self.tags)))],
            "content_label exact": lambda o: [q(o, label=self.draw(self.labels))],
            "content_label one typo": lambda o: [q(o, label=typo(rng, self.draw(self.labels)))],
            "text word": lambda o: [q(o, text=self.draw(self.text))],
            "tag + content_label": lambda o: [q(o, *self.draw(self.pairs).split("\n"))],
            "pages 2-3 content_label animal": lambda o: self.pages(o, "label", "animal"),
            f"pages 2-3 tag {self.common_tag}": lambda o: self.pages(o, "tag", self.common_tag),
        }

    def pages(self, owner: uuid.UUID | None, field: str, term: str) -> list[SearchQuery]:
        """Pages 2 and 3 of a filter, their cursors got once per owner (not timed)."""
        key = (owner, field, term)
        if key not in self.cursors:
            first = _query(owner, tag=term) if field == "tag" else _query(owner, label=term)
            second = replace(first, cursor=self.run_query(first))
            third = replace(first, cursor=self.run_query(second))
            self.cursors[key] = [p for p in (second, third) if p.cursor is not None]
        return self.cursors[key]


def _query(
    owner: uuid.UUID | None,
    tag: str | None = None,
    label: str | None = None,
    name: str | None = None,
    text: str | None = None,
) -> SearchQuery:
    return SearchQuery(owner_id=owner, name=name, tag=tag, label=label, text=text, limit=LIMIT)


@dataclass
class Timings:
    """The times (ms) and page sizes of one kind in one scope."""

    times: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)


def timed(container: Container, query: SearchQuery) -> tuple[float, int, str | None]:
    """Milliseconds of one summaries call, the page's size and its next cursor."""
    with container.database.transaction(write=False) as session:
        began = time.perf_counter()
        page = container.search.summaries(session, query)
        elapsed = (time.perf_counter() - began) * 1000
    return elapsed, len(page.images), page.next_cursor


def run_kind(
    container: Container, make: Make, owners: list[uuid.UUID | None], runs: int, budget: float
) -> Timings:
    """`runs` timed queries (at least 3 past the budget of seconds), after one untimed."""
    found = Timings()
    deadline = time.perf_counter() + budget
    for query in make(owners[0])[:1]:  # warms the statement cache and the pages read
        timed(container, query)
    n = 0
    while len(found.times) < runs and (time.perf_counter() < deadline or len(found.times) < 3):
        queries = make(owners[n % len(owners)])
        if not queries and n >= len(owners):
            break  # no owner has a second page of this filter
        for query in queries:
            elapsed, hits, _ = timed(container, query)
            found.times.append(elapsed)
            found.hits.append(hits)
        n += 1
    return found
