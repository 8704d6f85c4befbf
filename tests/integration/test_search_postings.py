"""A tag or label filter read through the vocabulary and the scoped postings pages exactly as
the ranking says: strong (exact first, then by confidence for labels, then newest), then
similar names; every image once, whatever the page size, the scope or the confidence floor."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bitimage.analysis.ports import Label
from bitimage.analysis.repository import AnalysisRepository
from bitimage.bootstrap import Container
from bitimage.images.repository import ImageRepository
from bitimage.search.ports import SearchEntry, SearchQuery
from bitimage.search.ranking import value_score
from bitimage.search.streams import Name
from bitimage.search.tiered import TieredSearchIndex
from bitimage.users.models import User
from tests.support import add_image_row, add_user, set_tags

TERM = "tiger"
NAMES = ["tiger", "tigers", "white tiger", "tigor", "tigex", "lion", "tig"]
IMAGES = 36

Postings = dict[uuid.UUID, list[tuple[str, float]]]  # image -> (name, confidence)


def unexplained(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """Label terms read as no analyser's word (the label-word path has its own tests)."""
    monkeypatch.setattr(container.search_index, "label_words", None)


def _expected(
    postings: Postings,
    order: dict[uuid.UUID, tuple[str, str]],
    ranked: bool,
    floor: float,
    streams: int,
) -> list[uuid.UUID]:
    """The ranking of README's search section, by brute force (`streams` similar names)."""
    values = {name: value_score(TERM, name) for name in NAMES if TERM not in name}
    kept_names = sorted((n for n in values if values[n] > 0), key=values.__getitem__)[-streams:]
    keys = []
    for image, found in postings.items():
        kept = [(name, conf) for name, conf in found if conf >= floor]
        exact = [conf for name, conf in kept if name == TERM]
        contains = [conf for name, conf in kept if TERM in name]
        similar = [(value_score(TERM, n), c) for n, c in kept if n in kept_names]
        if exact:
            key: tuple[int, float] = (2, 2 + max(exact) if ranked else 2.0)
        elif contains:
            key = (2, max(contains) if ranked else 0.0)
        elif similar:
            scores = [
                round(round(v, 4) + c / 1000, 7) if ranked else round(v, 4) for v, c in similar
            ]
            key = (1, max(scores))
        else:
            continue
        keys.append((*key, *order[image], image))
    return [key[-1] for key in sorted(keys, reverse=True)]


def _paged(session: Session, container: Container, query: SearchQuery) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    while True:
        page = container.search_index.search(session, query)
        seen += page.image_ids
        if page.next_cursor is None:
            return seen
        query = SearchQuery(**{**query.__dict__, "cursor": page.next_cursor})


def _build(
    session: Session,
    owner: uuid.UUID,
    other: uuid.UUID,
    write: Callable[..., None],
    count: int = IMAGES,
) -> tuple[Postings, Postings, dict[uuid.UUID, tuple[str, str]]]:
    """Images of two owners with random names: (owner's postings, public ones, time order)."""
    rng = random.Random(17)
    mine: Postings = {}
    public: Postings = {}
    order: dict[uuid.UUID, tuple[str, str]] = {}
    repo = ImageRepository(session)
    for n in range(count):
        whose, private = (owner, n % 3 != 0) if n % 4 else (other, False)
        image_id = add_image_row(session, whose, f"img {n}", is_private=private)
        found = [(name, round(rng.choice([0.25, 0.5, 0.75, rng.random()]), 3))
                 for name in rng.sample(NAMES, rng.randint(0, 3))]  # fmt: skip
        write(image_id, found)
        image = repo.get(image_id)
        assert image is not None
        order[image_id] = (image.created_at.isoformat(), image_id.hex)
        if whose == owner:
            mine[image_id] = found
        if not private:
            public[image_id] = found
    return mine, public, order


@pytest.mark.parametrize("streams", [24, 2])  # 2: the strong names in one merged query
@pytest.mark.parametrize("field", ["label", "tag"])
def test_pages_follow_the_ranking(
    container: Container, field: str, streams: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bitimage.search.streams.MAX_STREAMS", streams)
    unexplained(container, monkeypatch)
    with container.database.transaction() as session:
        owner, other = uuid.uuid4(), uuid.uuid4()
        session.add_all([User(id=user, image_upload_count=0) for user in (owner, other)])
        session.flush()
        labels = AnalysisRepository(session)

        def write(image_id: uuid.UUID, found: list[tuple[str, float]]) -> None:
            if field == "tag":
                set_tags(session, image_id, sorted({name for name, _ in found}))
                return
            # A second analyser sometimes finds the same name, less or more confident.
            labels.replace_labels(image_id, "a1", "m", [Label(n, c) for n, c in found])
            twice = [Label(n, round(c / 2 + 0.3, 3)) for n, c in found[:1]]
            labels.replace_labels(image_id, "a2", "m", twice)
            found.extend((label.name, label.confidence) for label in twice)

        mine, public, order = _build(session, owner, other, write)
        ranked = field == "label"
        for floor in [None, 0.5] if ranked else [None]:
            for scope, postings in ((owner, mine), (None, public)):
                want = _expected(postings, order, ranked, floor or 0.0, streams)
                assert want, "the data should match something"
                for limit in (1, 3, 100):
                    query = SearchQuery(scope, limit=limit, min_confidence=floor, **{field: TERM})
                    got = _paged(session, container, query)
                    assert got == want, (scope, floor, limit)


# Defaults (one label: PostgreSQL reads its postings up to 10 a tag posting, SQLite a sample
# of 500, then up to the tags' count; else the tags); (1, 0): a sample of 1 (the estimate
# decides), no label posting read (the tags after an empty read); (0, 0): one label's
# postings read whole, several labels' joined to the tags; 10**9: several labels read too.
# words: the label term is an analyser's word, so only that label counts (read alone, each
# posting one of it; a second analyser gives some images a second posting of it).
@pytest.mark.parametrize(
    ("few_tags", "scan", "sample", "per_tag", "words"),
    [
        (3000, 20_000, 500, 10, False),
        (3000, 20_000, 1, 0, False),
        (3000, 20_000, 1, 10**6, False),
        (0, 0, 500, 10, False),
        (10**9, 0, 500, 10, False),
        (3000, 20_000, 500, 10, True),
        (3000, 20_000, 1, 0, True),
        (3000, 20_000, 1, 10**6, True),
        (3000, 0, 500, 10, True),
    ],
)
def test_a_tag_and_a_label_page_as_the_ranking_says(
    container: Container,
    few_tags: int,
    scan: int,
    sample: int,
    per_tag: int,
    words: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both filters strong: 2 per exact name plus the best containing label's confidence.

    `per_tag`: the label's postings read per tag posting, at most (PostgreSQL's hashed read,
    SQLite's probed one): 0 reads the tags after the sample, 10**6 the label's postings.
    """
    monkeypatch.setattr("bitimage.search.combined.FEW_TAGS", few_tags)
    monkeypatch.setattr("bitimage.search.combined.SCAN", scan)
    monkeypatch.setattr("bitimage.search.combined.SAMPLE", sample)
    monkeypatch.setattr("bitimage.search.combined.LABEL_ROWS_PER_TAG", per_tag)
    monkeypatch.setattr("bitimage.search.combined.PROBED_PER_TAG", per_tag)
    if words:
        monkeypatch.setattr(container.search_index, "label_words", _Words(TERM))
    else:
        unexplained(container, monkeypatch)
    with container.database.transaction() as session:
        owner, other = uuid.uuid4(), uuid.uuid4()
        session.add_all([User(id=user, image_upload_count=0) for user in (owner, other)])
        session.flush()
        rng = random.Random(5)
        tags: dict[uuid.UUID, list[str]] = {}

        def write(image_id: uuid.UUID, found: list[tuple[str, float]]) -> None:
            AnalysisRepository(session).replace_labels(
                image_id, "a1", "m", [Label(n, c) for n, c in found]
            )
            if words and rng.random() < 0.5:
                twice = [Label(TERM, round(rng.random(), 3))]
                AnalysisRepository(session).replace_labels(image_id, "a2", "m", twice)
                found.extend((label.name, label.confidence) for label in twice)
            tags[image_id] = rng.sample(NAMES[:4], rng.randint(1, 2))
            set_tags(session, image_id, sorted(tags[image_id]))
            index_entry = SearchEntry(image_id, "img", tags[image_id], [n for n, _ in found])
            container.search_index.index(session, [index_entry])

        mine, public, order = _build(session, owner, other, write, 120)
        for floor in (None, 0.5):
            for scope, postings in ((owner, mine), (None, public)):
                keys = []
                for image, found in postings.items():
                    matches = (lambda n: n == TERM) if words else (lambda n: TERM in n)
                    labels = [(n, c) for n, c in found if c >= (floor or 0.0) and matches(n)]
                    if not labels or not any(TERM in tag for tag in tags[image]):
                        continue
                    score = 2 * (TERM in tags[image]) + 2 * any(n == TERM for n, _ in labels)
                    keys.append((score + max(c for _, c in labels), *order[image], image))
                want = [key[-1] for key in sorted(keys, reverse=True)]
                assert want, "the data should match something"
                for limit in (1, 4, 100):
                    query = SearchQuery(scope, tag=TERM, label=TERM, limit=limit,
                                        min_confidence=floor)  # fmt: skip
                    got = _paged(session, container, query)
                    assert got[: len(want)] == want, (scope, floor, limit)
                    assert not set(got[len(want) :]) & set(want)


class _Words:
    """Label words: the listed ones resolve to themselves (search.ports.LabelWords)."""

    def __init__(self, *words: str) -> None:
        self.words = set(words)

    def resolve(self, term: str) -> str | None:
        return term if term in self.words else None


@pytest.mark.parametrize(
    ("rare", "few_labels", "candidates", "lead"),
    [
        (1000, 0, 400, 1),
        (1000, 10**6, 400, 1),
        (1000, 0, 400, 10**6),
        (0, 0, 400, 1),
        (0, 10**6, 400, 1),
        (1000, 0, 7, 1),
        (1000, 10**6, 7, 1),
        (1000, 0, 7, 10**6),
        (0, 0, 7, 1),
        (0, 10**6, 7, 1),
    ],
)
def test_a_tag_typo_with_a_label_word_ranks_as_the_generic_tier(
    container: Container,
    rare: int,
    few_labels: int,
    candidates: int,
    lead: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The typo tier read from the postings gives the generic tier's ranking (its best
    `candidates`); `rare` 0: every tag read from the label's postings in confidence order, or
    (`few_labels`) the label's postings read whole with the tags of each image; `rare` 1000:
    the tags read whole, joined to the label's postings (`few_labels`: by hashing both, else
    on PostgreSQL probed per tag posting), on SQLite the label's postings leading, each
    probing the image's tags, when they are fewer than the tags' (`lead` 10**6: always)."""
    monkeypatch.setattr("bitimage.search.combined_fuzzy.RARE", rare)
    monkeypatch.setattr("bitimage.search.combined_fuzzy.LABELS_LEAD", lead)
    monkeypatch.setattr("bitimage.search.combined_fuzzy.FEW_LABELS", few_labels)
    monkeypatch.setattr("bitimage.search.combined_fuzzy.MANY_COMMON", 1)
    monkeypatch.setattr("bitimage.search.combined_fuzzy.FUZZY_CANDIDATES", candidates)
    index = container.search_index
    assert isinstance(index, TieredSearchIndex)
    monkeypatch.setattr(index, "label_words", _Words("cat"))
    with container.database.transaction() as session:
        owner, other = uuid.uuid4(), uuid.uuid4()
        session.add_all([User(id=user, image_upload_count=0) for user in (owner, other)])
        session.flush()
        rng = random.Random(11)

        def write(image_id: uuid.UUID, found: list[tuple[str, float]]) -> None:
            labels = [Label(rng.choice(["cat", "cats", "dog"]), c) for _, c in found]
            AnalysisRepository(session).replace_labels(image_id, "a1", "m", labels)
            # A second analyser sometimes finds "cat" too: an image with two postings of it.
            twice = [Label("cat", round(rng.random(), 3))] if rng.random() < 0.5 else []
            AnalysisRepository(session).replace_labels(image_id, "a2", "m", twice)
            labels += twice
            tags = sorted({name for name, _ in found})
            set_tags(session, image_id, tags)
            entry = SearchEntry(image_id, "img", tags, sorted({label.name for label in labels}))
            index.index(session, [entry])

        _build(session, owner, other, write, 150)
        for floor in (None, 0.5):
            for scope in (owner, None):
                query = SearchQuery(scope, tag=TERM, label="cat", limit=100, min_confidence=floor)
                filters = {"tag": TERM, "label": "cat"}
                strong = index._strong_postings(session, query, filters, None, True)
                found = index._fuzzy_candidates(session, query, filters)
                confidences = index._confidences(session, query, filters, True, found)
                generic = index._rank_fuzzy(found, filters, confidences, None, candidates)
                assert generic, "the data should have typo matches"
                want = [uuid.UUID(hex=p.image_id) for p in strong + generic]
                for limit in (1, 3, 100):
                    paged = SearchQuery(scope, tag=TERM, label="cat", limit=limit,
                                        min_confidence=floor)  # fmt: skip
                    assert _paged(session, container, paged) == want, (scope, floor, limit)


@pytest.mark.parametrize("per_tag", [10, 2])
def test_a_rare_tag_among_a_common_label_is_read_from_the_tags(
    container: Container, per_tag: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label's first postings hold none of the tag: the tags' postings are read after all.

    SQLite: its sample says so (the label has more postings than the tags). PostgreSQL, up to
    10 label postings a tag posting: the label is read whole (30 postings, 8 tag postings); up
    to 2: its first 16 postings hold none of the tag, the label has more.
    """
    monkeypatch.setattr("bitimage.search.combined.LABEL_ROWS_PER_TAG", per_tag)
    unexplained(container, monkeypatch)
    index = container.search_index
    with container.database.transaction() as session:
        owner = add_user(session)
        labels = AnalysisRepository(session)
        both = []

        def add(name: str, tags: list[str], label: list[Label]) -> uuid.UUID:
            image_id = add_image_row(session, owner, name, is_private=False)
            labels.replace_labels(image_id, "a1", "m", label)
            set_tags(session, image_id, tags)
            index.index(session, [SearchEntry(image_id, name, tags, [x.name for x in label])])
            return image_id

        for n in range(30):  # 30 images labelled "cat", the least confident three tagged too
            tagged = ["tiger"] if n >= 27 else []
            image_id = add(f"img {n}", tagged, [Label("cat", round(1 - n / 100, 2))])
            if tagged:
                both.append(image_id)
        for n in range(5):  # more tagged images without the label: 8 tag postings in all
            add(f"other {n}", ["tiger"], [])
        query = SearchQuery(None, tag="tiger", label="cat", limit=2)
        assert _paged(session, container, query) == both  # most confident first


@pytest.mark.parametrize("rare", [1000, 3])
def test_a_typo_tiers_tags_are_counted_in_scope_up_to_rare(
    container: Container, rare: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each similar tag's postings in scope, counted up to RARE, by name: PostgreSQL counts
    over an array of the tags (one subquery), SQLite in a union of one count per tag."""
    monkeypatch.setattr("bitimage.search.combined_fuzzy.RARE", rare)
    index = container.search_index
    assert isinstance(index, TieredSearchIndex)
    with container.database.transaction() as session:
        owner, other = uuid.uuid4(), uuid.uuid4()
        session.add_all([User(id=user, image_upload_count=0) for user in (owner, other)])
        session.flush()
        # (owner, private, tags) per image: tigers 5 of the owner's (2 public), 4 of another's
        # (all public); tigor 1 private; tigex none anywhere but on a private image of other.
        made = [(owner, True, ["tigers"])] * 3 + [(owner, False, ["tigers", "tigor"])] * 2
        made += [(other, False, ["tigers"])] * 4 + [(owner, True, ["tigor"])]
        made += [(other, True, ["tigex"])]
        for user, private, tags in made:
            image_id = add_image_row(session, user, "img", is_private=private)
            set_tags(session, image_id, tags)
        ids: dict[str, Any] = dict(session.execute(text("SELECT name, id FROM tags")).all())
        names = [Name(ids[name], 1, 0.5) for name in ("tigex", "tigers", "tigor")]
        fuzzy = index._combined_fuzzy
        mine = fuzzy._counts(session, False, index._posting_scope(SearchQuery(owner)), names)
        everyone = fuzzy._counts(session, True, index._posting_scope(SearchQuery(None)), names)
    capped = {name: min(count, rare) for name, count in (("tigex", 0), ("tigers", 5), ("tigor", 3))}
    assert mine == {ids[name]: count for name, count in capped.items()}
    seen = {"tigex": 0, "tigers": min(6, rare), "tigor": min(2, rare)}
    assert everyone == {ids[name]: count for name, count in seen.items()}


@pytest.mark.parametrize("scan", [5, 20_000])
def test_a_label_words_first_page_shows_an_image_of_two_analysers_once(
    container: Container, scan: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from the label's postings (the tag's postings being more than a page: whole when
    more than `scan` 5, else as each database reads one label), an image two analysers
    labelled shows once, at its best; every other row being such a second posting, more than
    the margin read for them, a first page is read again with the probe: pages as ranked."""
    monkeypatch.setattr("bitimage.search.combined.SCAN", scan)
    monkeypatch.setattr(container.search_index, "label_words", _Words("cat"))
    with container.database.transaction() as session:
        owner = add_user(session)
        labels = AnalysisRepository(session)
        images = []
        for n in range(12):
            image_id = add_image_row(session, owner, "img", is_private=False)
            labels.replace_labels(image_id, "a1", "m", [Label("cat", round(0.9 - n / 50, 3))])
            labels.replace_labels(image_id, "a2", "m", [Label("cat", round(0.89 - n / 50, 3))])
            set_tags(session, image_id, ["pet"])
            entry = SearchEntry(image_id, "img", ["pet"], ["cat"])
            container.search_index.index(session, [entry])
            images.append(image_id)
        for scope in (owner, None):
            for limit in (1, 4, 5, 100):
                query = SearchQuery(scope, tag="pet", label="cat", limit=limit)
                first = container.search_index.search(session, query).image_ids
                assert first == images[:limit], (scope, limit)
                assert _paged(session, container, query) == images, (scope, limit)
