"""A lone name filter on PostgreSQL through the words of the names (migration 0014).

A name's words are its runs of ASCII letters and digits; every other character separates them
(`img_20200313_141726.jpg`: img, 20200313, 141726, jpg). Each image has a posting per word in
scope (owner or visible, then time), and the vocabulary of every word has a trigram index.

Names containing a term: a name holds the term only where each of the term's pieces (its own
runs of letters and digits) lies in one of the name's words: a piece with separators on both
sides in the term is a whole word, one with a separator after it ends a word, one with a
separator before it starts a word, a term without separators lies inside one word. Each
piece's words come from the vocabulary; the piece whose words have the fewest postings in
scope (counted up to CAP) drives: its words' postings are read newest first, a stream per word
(a LIMIT each), and kept when the name contains the term; the next FILTERS rarest pieces are
tested first on the postings' key (the image has one of their words), so a name is read only
for the images that have a word of each. A piece none of whose words exists
proves that no name holds the term. When no piece can drive (too many words, or a piece
shorter than a trigram inside a word) the caller falls back to the statements on the names.

Typo candidates: each piece's words, pieces with the fewest postings first, the newest
FUZZY_CANDIDATES images of those words in scope. A piece of letters brings its SIMILAR_WORDS
most similar words without a digit (itself first when it is one), through the trigram index of
those words; a piece with a digit brings itself and the words most similar to it among those
keeping two thirds of it (its start, its end, and from nine characters its two ends): camera
numbers are most of the vocabulary and share trigrams by the thousand (a similarity scan of
all words took 75-100 ms at 300,000 images). What it may miss: a name similar to the term
none of whose words is among a piece's words (a number with two typos; a typo in the middle
third of a number of six to eight characters; any typo in a piece of at most five characters
with a digit; a misspelt word whose correction is not among its SIMILAR_WORDS most similar),
and, once the rarer pieces' newest names fill the candidates, the older names of the
commoner pieces.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from bitimage.search.query import FUZZY_CANDIDATES

WORDS_SQL = "regexp_split_to_table(s.name, '[^a-z0-9]+')"  # the split, as migration 0014 has it
_WORD = re.compile("[a-z0-9]+")
LETTERS = "word !~ '[0-9]'"  # the condition of the vocabulary's partial index of similar words
CAP = 1_000  # postings counted per piece to choose the driving piece
MAX_WORDS = 24  # a piece matching more words drives no read (and is not counted)
FILTERS = 3  # the term's other pieces whose words an image must also have (by the key)
SIMILAR_WORDS = 8  # a piece's typo candidates come from its most similar words
_SHAPES = (1, 2, 4, 8, 16, 24)  # streams one statement reads: a few shapes, compiled once
POOLED = 0  # the shape of one stream of several words, read whole (their postings counted)
POOL_BELOW = CAP  # several words with fewer postings in scope than this: one stream, POOLED
EXACT, PREFIX, SUFFIX, INNER = "exact", "prefix", "suffix", "inner"


@dataclass(frozen=True)
class Piece:
    """A run of letters and digits in the term, and how it must lie in a name's word."""

    word: str
    form: str

    def pattern(self) -> str:
        """The vocabulary's condition on a word (= or LIKE; letters and digits need no escape)."""
        return {
            EXACT: self.word,
            PREFIX: self.word + "%",
            SUFFIX: "%" + self.word,
            INNER: "%" + self.word + "%",
        }[self.form]

    @property
    def searchable(self) -> bool:
        """Whether an index finds its words (a trigram needs three characters)."""
        return self.form in (EXACT, PREFIX) or len(self.word) >= 3


def pieces(term: str) -> list[Piece]:
    """The term's runs of letters and digits, with the form each must have in a name."""
    found = list(_WORD.finditer(term))
    result = []
    for match in found:
        before = match.start() > 0  # a separator precedes it within the term
        after = match.end() < len(term)
        form = {(True, True): EXACT, (True, False): PREFIX, (False, True): SUFFIX}
        result.append(Piece(match.group(), form.get((before, after), INNER)))
    return result


def _scope(public: bool, rows: str = "p") -> str:
    """The scope's condition on the rows of alias `rows` (postings or search rows)."""
    # `visible` written bare: the public partial index's own condition.
    return f"{rows}.visible" if public else f"{rows}.user_id = :owner"


@functools.lru_cache(maxsize=64)
def _vocabulary(forms: tuple[str, ...]) -> TextClause:
    """Each piece's words (:w<n>), at most MAX_WORDS + 1 of them, tagged by the piece's index."""
    members = [
        f"(SELECT {n} AS k, word FROM image_search_words WHERE word "  # noqa: S608 - fixed
        f"{'=' if form == EXACT else 'LIKE'} :w{n} LIMIT {MAX_WORDS + 1})"
        for n, form in enumerate(forms)
    ]
    return text(" UNION ALL ".join(members))


@functools.lru_cache(maxsize=64)
def _counts(public: bool, pieces: int) -> TextClause:
    """The postings in scope of each piece's words (:s<n>), counted up to CAP."""
    members = [
        f"SELECT {n} AS k, (SELECT count(*) FROM (SELECT 1 FROM image_search_postings p "  # noqa: S608
        f"WHERE p.word = ANY(:s{n}) AND {_scope(public)} LIMIT {CAP}) c)"
        for n in range(pieces)
    ]
    return text(" UNION ALL ".join(members))


CONTAINING, WHOLE, NAMES = "containing", "whole", "names"  # what a read of streams keeps


@functools.lru_cache(maxsize=64)
def _streams(
    public: bool, words: int, keep: str, after: bool, filters: tuple[bool, ...] = ()
) -> TextClause:
    """Each word's (:w<n>) images in scope newest first, :limit each, merged newest first.

    `words` 0: one stream of every word of the list :w0 (POOLED), read whole and sorted.

    CONTAINING: the names that contain the term (LIKE :like) and are not it (:q), among the
    images that also have a word of each of the `filters` (:x<j>: the term's other pieces,
    tested on the postings before any name is read; a single word (True) joined on (time,
    image), in the order both indexes give, else any of a list by the postings' key); WHOLE
    (the term is one piece inside a word: every posting holds it): the images not among
    :exact, read from the postings' index alone; NAMES: every image, with its name, for the
    typo tier. `after`: below the cursor (:c, :i).
    """
    where = [_scope(public)]
    if keep == WHOLE:
        where.append("p.image_id <> ALL(:exact)")
    if after:
        where.append("(p.created_at, p.image_id) < (:c, :i)")
    joins = ""
    for j, single in enumerate(filters):
        if single:
            joins += (
                f" JOIN image_search_postings b{j} ON b{j}.created_at = p.created_at "
                f"AND b{j}.image_id = p.image_id AND b{j}.word = :x{j} "
                f"AND {_scope(public, f'b{j}')}"
            )
        else:
            where.append(
                "EXISTS (SELECT 1 FROM image_search_postings b WHERE b.image_id = p.image_id "  # noqa: S608
                f"AND b.word = ANY(:x{j}))"
            )
    condition = " AND ".join(where)
    order = "ORDER BY p.created_at DESC, p.image_id DESC"
    if words == POOLED:  # an image with two of the words once: DISTINCT before the LIMIT
        heads = [("SELECT DISTINCT", "= ANY(:w0)")]
    else:
        heads = [("SELECT", f"= :w{n}") for n in range(words)]
    members = [
        f"{select} p.image_id, p.created_at FROM image_search_postings p{joins} "
        f"WHERE p.word {match} AND {condition} {order}"
        for select, match in heads
    ]
    if keep == CONTAINING:  # the names of the rows that pass, read in order (OFFSET 0: as is)
        members = [
            f"SELECT p.image_id, p.created_at FROM ({member} OFFSET 0) p "  # noqa: S608
            f"JOIN image_search s ON {_name_key(public, 'p')} "
            f"WHERE s.name LIKE :like AND s.name <> :q {order}"
            for member in members
        ]
    members = [f"({member} LIMIT :limit)" for member in members]
    merged = (
        f"SELECT DISTINCT image_id, created_at FROM ({' UNION ALL '.join(members)}) u "  # noqa: S608 - fixed names
        "ORDER BY created_at DESC, image_id DESC LIMIT :limit"
    )
    if keep != NAMES:
        return text(merged)
    # The typo tier's names: fetched for the merged page only, not for every stream's rows,
    # a subquery a row (by the key, whatever the planner estimates of the page).
    return text(
        "SELECT m.image_id, m.created_at, (SELECT s.name FROM image_search s "  # noqa: S608
        f"WHERE {_name_key(public, 'm')}) AS name FROM ({merged}) m"
    )


def _name_key(public: bool, rows: str) -> str:
    """The search row of a posting (`rows`: its alias), found by the scope's recent index.

    That index (scope, time, image) includes the name, so names come from it alone, from
    the scope's own part of it. By the image's key they were a page of the primary key and
    one of the table each, anywhere: a typo tier's 400 names touched as many table pages.
    """
    key = f"s.created_at = {rows}.created_at AND s.image_id = {rows}.image_id"
    return f"{_scope(public, 's')} AND {key}"


@functools.lru_cache(maxsize=4)
def _exact(public: bool) -> TextClause:
    """The images in scope named exactly the term (:q), up to CAP + 1 of them."""
    return text(
        f"SELECT s.image_id FROM image_search s WHERE {_scope(public, 's')} AND s.name = :q "  # noqa: S608
        f"LIMIT {CAP + 1}"
    )


@functools.lru_cache(maxsize=64)
def _similar(lettered: tuple[bool, ...]) -> TextClause:
    """Each piece's (:w<n>) words for typo candidates, tagged by the piece's index.

    Letters only: its SIMILAR_WORDS most similar words without a digit (`<%`, the partial
    trigram index). With a digit: the word itself, and the SIMILAR_WORDS most similar among
    the words keeping two thirds of it (thirds: :p<n> its start, by the vocabulary's key;
    :s<n> its end and :e<n> its two ends, by the trigram index).
    """
    members = []
    for n, letters in enumerate(lettered):
        if letters:
            members.append(
                f"(SELECT {n} AS k, word FROM image_search_words WHERE :w{n} <% word "  # noqa: S608
                f"AND {LETTERS} ORDER BY word_similarity(:w{n}, word) DESC, word "
                f"LIMIT {SIMILAR_WORDS})"
            )
            continue
        members.append(f"(SELECT {n} AS k, word FROM image_search_words WHERE word = :w{n})")  # noqa: S608 - fixed names
        members += [
            f"(SELECT {n} AS k, word FROM image_search_words WHERE word LIKE :{half}{n} "  # noqa: S608
            f"ORDER BY similarity(:w{n}, word) DESC, word LIMIT {SIMILAR_WORDS})"
            for half in ("p", "s", "e")
        ]
    return text(" UNION ALL ".join(members))


def thirds(word: str) -> tuple[str, str, str]:
    """LIKE patterns of the words keeping two thirds of `word` ("": none), the third left out
    being the last, the first or the middle one: one typo leaves one of them intact.

    A pattern keeping fewer than four characters (or ends shorter than a trigram) would match a
    large part of the vocabulary: left out ("" is no LIKE pattern of any word, every word
    being at least one character).
    """
    third = len(word) // 3
    if third < 2:
        return "", "", ""
    start, end = word[: len(word) - third], word[third:]
    # Both ends need a trigram each for the index to narrow them (a word of nine or more).
    ends = word[:third] + "%" + word[len(word) - third :] if third >= 3 else ""
    return start + "%", "%" + end, ends


class NameWords:
    """Strong and typo candidates of a lone name filter, read from the words' postings."""

    def containing(
        self, session: Session, term: str, params: dict[str, Any], after: bool
    ) -> list[tuple[Any, Any]] | None:
        """The names containing (not equal to) the term, newest first (None: cannot tell).

        `params` binds the scope (:owner or none), :like, :q, :limit and, `after`, :c and :i.
        """
        scope = {key: params[key] for key in ("owner",) if key in params}
        parts = pieces(term)
        usable = [piece for piece in parts if piece.searchable]
        if not usable:
            return None
        words = self._words(session, usable)
        if any(not found for found in words):
            return []  # a piece in no word: no name holds the term
        chosen = self._fewest(session, scope, words, usable)
        if chosen is None:
            return None
        driver, others, counted = chosen
        keep, bound = CONTAINING, dict(params)
        for j, found in enumerate(others):  # a single word is joined, a list tested by the key
            bound[f"x{j}"] = found[0] if len(found) == 1 else found
        if len(parts) == 1 and parts[0].form == INNER:  # each word holds the term
            exact = _exact("owner" not in scope)
            bound["exact"] = [i for (i,) in session.execute(exact, {**scope, "q": term})]
            keep = WHOLE if len(bound["exact"]) <= CAP else CONTAINING
        filters = tuple(len(found) == 1 for found in others) if keep == CONTAINING else ()
        statement, bound = self._read(scope, driver, bound, keep, after, filters, counted)
        return [(i, c) for i, c in session.execute(statement, bound)]

    def candidates(self, session: Session, term: str, scope: dict[str, Any]) -> list[Any] | None:
        """Up to FUZZY_CANDIDATES (id, created_at, name) with a word like one of the term's.

        None when the term has no letter or digit to look up (the caller reads the names).
        """
        parts = pieces(term)
        if not parts:
            return None
        words: list[list[str]] = [[] for _ in parts]
        params = {f"w{n}": piece.word for n, piece in enumerate(parts)}
        for n, piece in enumerate(parts):
            params[f"p{n}"], params[f"s{n}"], params[f"e{n}"] = thirds(piece.word)
        lettered = tuple(piece.word.isalpha() for piece in parts)
        for k, word in session.execute(_similar(lettered), params):
            if word not in words[k]:
                words[k].append(word)
        words = [found for found in words if found]
        if not words:
            return []
        counts = self._counted(session, scope, words)
        found: dict[Any, Any] = {}
        for counted, chosen in sorted(zip(counts, words, strict=True), key=lambda pair: pair[0]):
            left = {"limit": FUZZY_CANDIDATES - len(found)}
            statement, bound = self._read(scope, chosen, left, NAMES, False, (), counted)
            for row in session.execute(statement, bound):
                found.setdefault(row[0], tuple(row))
            if len(found) >= FUZZY_CANDIDATES:
                break
        return list(found.values())

    def _words(self, session: Session, parts: list[Piece]) -> list[list[str]]:
        """Each piece's words in the vocabulary (more than MAX_WORDS: MAX_WORDS + 1 of them)."""
        forms = tuple(piece.form for piece in parts)
        params = {f"w{n}": piece.pattern() for n, piece in enumerate(parts)}
        found: list[list[str]] = [[] for _ in parts]
        for k, word in session.execute(_vocabulary(forms), params):
            found[k].append(word)
        return found

    def _counted(
        self, session: Session, scope: dict[str, Any], words: list[list[str]]
    ) -> list[int]:
        """Each word list's postings in scope, up to CAP."""
        params = {**scope, **{f"s{n}": found for n, found in enumerate(words)}}
        counts = [CAP] * len(words)
        for k, count in session.execute(_counts("owner" not in scope, len(words)), params):
            counts[k] = count
        return counts

    def _fewest(
        self,
        session: Session,
        scope: dict[str, Any],
        words: list[list[str]],
        parts: list[Piece],
    ) -> tuple[list[str], list[list[str]], int] | None:
        """The word list with the fewest postings in scope, up to FILTERS next fewest, and the
        first one's postings (counted up to CAP).

        None: every list is too long to read.
        """
        few = [
            (found, piece)
            for found, piece in zip(words, parts, strict=True)
            if len(found) <= MAX_WORDS
        ]
        if not few:
            return None
        counts = self._counted(session, scope, [found for found, _ in few])
        # Equal counts (CAP: both common), the longer piece first: the rarer, as a rule.
        ranked = sorted(
            zip(counts, few, strict=True),
            key=lambda pair: (pair[0], -len(pair[1][1].word), len(pair[1][0])),
        )
        lists = [found for _, (found, _) in ranked]
        return lists[0], lists[1 : 1 + FILTERS], ranked[0][0]

    def _read(
        self,
        scope: dict[str, Any],
        words: list[str],
        params: dict[str, Any],
        keep: str,
        after: bool,
        filters: tuple[bool, ...] = (),
        counted: int = CAP,
    ) -> tuple[TextClause, dict[str, Any]]:
        """The streams statement for these words (padded to a shape) and its parameters.

        Several words with fewer than POOL_BELOW postings in scope (`counted`) are read as one
        stream, whole, and sorted: PostgreSQL planned each word's stream, with the joins of
        the term's other pieces, for every read (`hound thatched beach.jpg`, nine words
        ending in `hound`, padded to 16 streams: 27 ms planning a read of 1.5 ms).
        """
        if len(words) > 1 and counted < POOL_BELOW:
            bound = {**scope, **params, "w0": words}
            return _streams("owner" not in scope, POOLED, keep, after, filters), bound
        size = next(size for size in _SHAPES if size >= len(words))
        padded: list[str | None] = [*words, *[None] * (size - len(words))]
        bound = {**scope, **params, **{f"w{n}": word for n, word in enumerate(padded)}}
        return _streams("owner" not in scope, size, keep, after, filters), bound
