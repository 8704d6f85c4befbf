"""Fuzzy matching rules and cursors."""

from __future__ import annotations

import uuid

import pytest

from bitimage.search.ports import InvalidCursor, SearchQuery
from bitimage.search.ranking import (
    EXACT,
    SUBSTRING,
    Position,
    decode_cursor,
    encode_cursor,
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
