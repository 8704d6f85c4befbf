"""Fuzzy matching rules and cursors."""

from __future__ import annotations

import random
import uuid

import pytest

from bitimage.search.ports import InvalidCursor, SearchQuery
from bitimage.search.ranking import (
    EXACT,
    SUBSTRING,
    Position,
    decode_cursor,
    encode_cursor,
    normalise,
    trigrams,
    value_score,
)


def test_exact_beats_substring_beats_typo() -> None:
    assert value_score("nicelettuce", "NiceLettuce") == EXACT
    assert value_score("lettuce", "nicelettuce") == SUBSTRING
    typo = value_score("nicelettuse", "nicelettuce")
    assert 0 < typo < SUBSTRING


@pytest.mark.parametrize(
    ("query", "value"), [("cat", "dog"), ("lettuce", "potato"), ("ab", "xy"), ("sunset", "moon")]
)
def test_unrelated_values_do_not_match(query: str, value: str) -> None:
    assert value_score(query, value) == 0


def test_cursor_round_trip_and_binding() -> None:
    query = SearchQuery(owner_id=uuid.uuid4(), name="cat")
    position = Position(2, 1.0, "2026-01-01 00:00:00.000000", uuid.uuid4().hex)
    cursor = encode_cursor(query, position)
    assert (
        decode_cursor(SearchQuery(owner_id=query.owner_id, name="cat", cursor=cursor)) == position
    )
    with pytest.raises(InvalidCursor):
        decode_cursor(SearchQuery(owner_id=query.owner_id, name="dog", cursor=cursor))
    with pytest.raises(InvalidCursor):
        decode_cursor(SearchQuery(owner_id=None, cursor="!!!"))


def test_typos_in_short_and_long_words() -> None:
    assert value_score("sunzet", "sunset") > 0  # one letter off in a short word
    assert value_score("lettuse", "nicelettuce") > 0  # a typo'd word inside a longer name
    assert value_score("sunzet", "sunset") < SUBSTRING


def _by_sets(query: str, value: str) -> float:
    """value_score as the ranking defines it, with both trigram sets built."""
    value = normalise(value)
    if query == value:
        return EXACT
    if query in value:
        return SUBSTRING
    padded_query, padded_value = trigrams(f"  {query} "), trigrams(f"  {value} ")
    similarity = len(padded_query & padded_value) / len(padded_query | padded_value)
    wanted = trigrams(query)
    if wanted:
        contained = len(wanted & trigrams(value)) / len(wanted)
        if contained >= 0.5:
            similarity = max(similarity, contained)
    return 0.8 * similarity if similarity >= 0.3 else 0.0


def test_scores_equal_the_trigram_sets_definition() -> None:
    """Counted by substring tests, the scores are those of the sets, to the last bit."""
    rng = random.Random(7)
    words = ["sunset", "beach", "img_2024", ".jpg", "lake", "no", "a", "sun set", "x"]
    letters = "abcdeilnorstuxy _.0123"
    near, contained_wins = [0, 0], 0
    for _ in range(20_000):
        query = normalise(" ".join(rng.sample(words, rng.randint(1, 2))))
        chars = list(query)
        for _ in range(rng.randint(0, 3)):  # typos: a letter changed, dropped or added
            at = rng.randrange(len(chars) + 1)
            edit = rng.choice(("change", "drop", "add"))
            if edit == "add" or not chars[at:]:
                chars.insert(at, rng.choice(letters))
            elif edit == "drop":
                del chars[at]
            else:
                chars[at] = rng.choice(letters)
        # Longer, a smaller share of its trigrams is shared; cut, nearly all of them.
        extra = "".join(rng.choice(letters) for _ in range(rng.randint(0, 12)))
        value = (
            "".join(chars) + extra if rng.random() < 0.5 else "".join(chars)[rng.randint(0, 3) :]
        )
        expected = _by_sets(query, value)
        assert value_score(query, value) == expected, (query, value)
        near[0.3 * 0.8 <= expected < 0.36 * 0.8] += 1
        wanted = trigrams(query)
        share = len(wanted & trigrams(normalise(value))) / len(wanted) if wanted else 0.0
        contained_wins += 0 < expected < SUBSTRING and expected == 0.8 * share
    assert near[True] > 50  # scores just above the cut, where a wrong early exit shows
    assert contained_wins > 500  # the share of the query's trigrams wins: the overlap unbuilt
