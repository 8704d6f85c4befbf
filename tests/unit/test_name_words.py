"""How a name term splits into the pieces PostgreSQL looks up among the names' words."""

from __future__ import annotations

from bitimage.search.name_words import EXACT, INNER, PREFIX, SUFFIX, Piece, pieces


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
