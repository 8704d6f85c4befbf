"""SQLite's FTS5 typo query of a long term: its spread trigrams, less those in most names.

FTS5's typo candidates are the rows holding any of at most MAX_TRIGRAMS of the term's trigrams
(`spread` along it), best bm25 first: FTS5 scores every row that holds one to keep the best 400.
A camera's file name (`img_20250730_213744.jpg`) spread over its trigrams takes `img`, which is
in most names: the query scored tens of thousands of rows (one user of 20,000 images: 8 ms, of
which `img` alone 6 ms). So when a term has more than MAX_TRIGRAMS trigrams, each spread
trigram's rows in the column are counted up to CAP (FTS5 stops reading its doclist there), and
those in CAP rows or more are left out when the others' rows add up to at least
FUZZY_CANDIDATES, or hold some and two of them lie three or more apart in the term (so a name
within one typo of the whole term holds one of them). bm25 ranks a common trigram's rows below
those of the rarer ones, and a name sharing only such a trigram with a long term is rarely
similar enough to be listed. Kept, such a trigram had FTS5 score most rows for a few candidates
(`solar.jpg`, one user of 100,000 images: its `.jp` in nearly every name, 106 ms against a
few). What it may miss beyond `spread`'s: a similar name sharing with the term none of its
spread trigrams but the common ones (a short name with the same extension, `lr.jpg` for
`solar.jpg`), when the others' rows fill the candidates or lie apart.

From PAIRED trigrams on (a term of 14 characters), a candidate must hold two of the trigrams
kept, when at least three are: spread ones then lie three or more apart, so one typo spoils
at most one of them and a name with one typo of the whole term holds the others. bm25 scored
every row holding any one (one owner of 100,000 images: `img_20200208_165025.jpg`, 40,320
rows, 48 ms; holding two of them, 5,795 rows, 14 ms). What that may miss: a name similar to
a long term elsewhere but holding only one of its spread trigrams.
"""

from __future__ import annotations

import functools
import itertools

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from bitimage.search.query import COLUMNS, FUZZY_CANDIDATES
from bitimage.search.sqlite_owned import MAX_TRIGRAMS, spread

CAP = 10_000  # rows counted per trigram: a trigram in this many is left out when it can be
PAIRED = 12  # a term with this many trigrams: its candidates hold two of those kept


def phrase(term: str) -> str:
    """An FTS5 phrase (a string of the query syntax) of `term`."""
    return '"' + term.replace('"', '""') + '"'


@functools.lru_cache(maxsize=8)
def _counts(count: int) -> TextClause:
    """Rows holding each trigram (:m<n>, a column's phrase), counted up to :cap."""
    members = [
        f"SELECT {n} AS k, (SELECT count(*) FROM (SELECT 1 FROM image_search "  # noqa: S608 - fixed
        f"WHERE image_search MATCH :m{n} LIMIT :cap)) AS c"
        for n in range(count)
    ]
    return text(" UNION ALL ".join(members))


def typo_grams(session: Session, field: str, term: str) -> list[str]:
    """The trigrams the typo query ORs for this term (module docstring)."""
    grams = spread(term)
    if len(term) - 2 <= MAX_TRIGRAMS:  # a short term: each of its trigrams, as before
        return grams
    params: dict[str, object] = {"cap": CAP}
    params |= {f"m{n}": f"{COLUMNS[field]} : {phrase(gram)}" for n, gram in enumerate(grams)}
    counts = dict.fromkeys(grams, CAP)
    for k, count in session.execute(_counts(len(grams)), params):
        counts[grams[k]] = count
    rare = [gram for gram in grams if counts[gram] < CAP]
    found = sum(counts[gram] for gram in rare)
    if rare and (found >= FUZZY_CANDIDATES or (found and _apart(term, rare))):
        return rare
    return grams


def _apart(term: str, grams: list[str]) -> bool:
    """Two of the trigrams lie three or more apart in the term: one typo spoils one at most."""
    places = [term.find(gram) for gram in grams]
    return max(places) - min(places) >= 3


def fragment(field: str, grams: list[str]) -> str:
    """The typo query's part for one filter: any of these trigrams in the column."""
    return f"{COLUMNS[field]} : ({' OR '.join(map(phrase, grams))})"


def typo_fragment(session: Session, field: str, term: str) -> str:
    """A long term's part of the typo query: any of its trigrams kept (`typo_grams`), or
    from PAIRED trigrams on, any two of them (module docstring)."""
    grams = typo_grams(session, field, term)
    if len(term) - 2 < PAIRED or len(grams) < 3:
        return fragment(field, grams)
    pairs = (f"({phrase(a)} AND {phrase(b)})" for a, b in itertools.combinations(grams, 2))
    return f"{COLUMNS[field]} : ({' OR '.join(pairs)})"
