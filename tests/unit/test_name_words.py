"""How a name term splits into the pieces PostgreSQL looks up among the names' words."""

from __future__ import annotations

from bitimage.search.name_words import EXACT, INNER, PREFIX, SUFFIX, Piece, pieces, thirds


def test_a_piece_is_whole_inside_separators_and_open_at_the_term_ends() -> None:
    assert pieces("img_20200313_1417") == [
        Piece("img", SUFFIX),
        Piece("20200313", EXACT),
        Piece("1417", PREFIX),
    ]
    assert pieces("sunset") == [Piece("sunset", INNER)]
    assert pieces(" beach.") == [Piece("beach", EXACT)]
    assert pieces("._ ") == []


def test_letters_outside_ascii_separate_words_as_the_sql_split_does() -> None:
    assert pieces("café_20") == [Piece("caf", SUFFIX), Piece("20", PREFIX)]


def test_only_pieces_an_index_can_find_are_searchable() -> None:
    assert [p.searchable for p in pieces("ab cd")] == [False, True]  # a 2-letter end, a start
    assert Piece("ab", EXACT).searchable
    assert Piece("abc", INNER).searchable
    assert Piece("1417", PREFIX).pattern() == "1417%"
    assert Piece("mer", SUFFIX).pattern() == "%mer"


def test_a_number_with_one_typo_keeps_one_of_its_thirds_patterns() -> None:
    """Each pattern keeps two thirds of the number; one typo spoils at most two of them."""
    start, end, ends = thirds("dsc16671")
    assert (start, end, ends) == ("dsc166%", "%c16671", "")  # ends of two: no trigram each
    assert thirds("055452563") == ("055452%", "%452563", "055%563")
    assert thirds("2023") == ("", "", "")
