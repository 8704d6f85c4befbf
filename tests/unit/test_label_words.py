"""The words a content_label query resolves to: exact, synonym, nearest for a typo, or none."""

from __future__ import annotations

import pytest

from bitimage.analysis.colours import COLOUR_NAMES
from bitimage.analysis.label_words import FACE_WORDS, LabelWords, default_words, distance
from bitimage.analysis.scenes import PARENTS
from bitimage.analysis.vocabulary import vocabulary


def test_distance_counts_a_transposition_as_one_edit() -> None:
    assert distance("cta", "cat") == 1
    assert distance("kitten", "sitting") == 3
    assert distance("", "abc") == 3
    assert distance("face", "face") == 0


@pytest.mark.parametrize(
    ("term", "word"),
    [
        ("cat", "cat"),
        ("  Cat ", "cat"),
        ("kitten", "cat"),
        ("ocean", "sea"),
        ("cta", "cat"),  # one transposition
        ("facr", "face"),
        ("vegtable", "vegetable"),  # long words: up to two edits
        ("buildnig", "building"),
        ("ct", None),  # too short to correct
        ("qqqq", None),
        ("palace", "palace"),
    ],
)
def test_default_words_resolve(term: str, word: str | None) -> None:
    from bitimage.analysis.label_words import label_words

    assert label_words().resolve(term) == word


def test_a_short_word_is_corrected_by_one_edit_only() -> None:
    words = LabelWords(["dog", "cat"], {})
    assert words.resolve("dgo") == "dog"
    assert words.resolve("dxx") is None  # two edits from "dog": too far for a short word


def test_ties_prefer_the_word_sharing_the_longest_start() -> None:
    words = LabelWords(["cart", "dart"], {})
    assert words.resolve("carx") == "cart"


def test_a_synonym_must_name_a_word_the_analysers_give() -> None:
    with pytest.raises(ValueError, match="unicorn"):
        LabelWords(["cat"], {"pony": "unicorn"})


def test_a_synonym_must_not_be_a_word_itself() -> None:
    with pytest.raises(ValueError, match="cat"):
        LabelWords(["cat", "feline"], {"cat": "feline"})


def test_every_analyser_word_is_known() -> None:
    words = default_words()
    assert set(COLOUR_NAMES) <= words
    assert set(FACE_WORDS) <= words
    assert set(PARENTS) | {p for parents in PARENTS.values() for p in parents} <= words
    everyday = vocabulary()
    assert {w for ws in everyday.by_category.values() for w in ws} <= words
    assert {"cat", "building", "vehicle", "animal", "face"} <= words
