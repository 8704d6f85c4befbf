"""SQLite's FTS5 typo query of a long term: the rarest of its trigrams, not the commonest.

FTS5's typo candidates are the rows holding any of at most MAX_TRIGRAMS of the term's trigrams,
best bm25 first: FTS5 scores every row that holds one to keep the best 400. A camera's file name
(`img_20250730_213744.jpg`) spread evenly over its trigrams holds `img`, in most names: the
query scored tens of thousands of rows (a one-user database of 20,000: 8 ms; `img` alone 6 ms).
So for a term of more than MAX_TRIGRAMS trigrams, each trigram's rows in the column are counted
up to CAP (FTS5 stops reading its doclist there), and of each of MAX_TRIGRAMS groups of
consecutive trigrams (the groups `spread` takes the first of) the rarest that some row holds is
taken; with equal counts, the first, as before. The groups whose rarest trigram is in CAP rows
or more are then left out when the others' rows add up to at least FUZZY_CANDIDATES: bm25
ranks a rare trigram's rows far above those holding only a common one, so those would not
reach the 400 anyway. What it may miss beyond `spread`'s: a similar name sharing only the
term's common trigrams (each in more than CAP names) when the rare ones fill the candidates.
"""

from __future__ import annotations

import functools

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from bitimage.search.query import COLUMNS, FUZZY_CANDIDATES
from bitimage.search.sqlite_owned import MAX_TRIGRAMS

CAP = 2_000  # rows counted per trigram


def phrase(term: str) -> str:
    """An FTS5 phrase (a string of the query syntax) of `term`."""
    return '"' + term.replace('"', '""') + '"'


def distinct(term: str) -> list[str]:
    """The term's trigrams, each once, in their order in it."""
    return list(dict.fromkeys(term[i : i + 3] for i in range(len(term) - 2)))


def groups(grams: list[str]) -> list[list[str]]:
    """MAX_TRIGRAMS groups of consecutive trigrams (one each when there are no more)."""
    if len(grams) <= MAX_TRIGRAMS:
        return [[gram] for gram in grams]
    step = len(grams) / MAX_TRIGRAMS
    return [grams[int(n * step) : int((n + 1) * step)] for n in range(MAX_TRIGRAMS)]


@functools.lru_cache(maxsize=64)
def _counts(count: int) -> TextClause:
    """Rows holding each trigram (:m<n>, a column's phrase) up to CAP."""
    members = [
        f"SELECT {n} AS k, (SELECT count(*) FROM (SELECT 1 FROM image_search "  # noqa: S608 - fixed
        f"WHERE image_search MATCH :m{n} LIMIT {CAP})) AS c"
        for n in range(count)
    ]
    return text(" UNION ALL ".join(members))


def typo_grams(session: Session, field: str, term: str) -> list[str]:
    """The trigrams the typo query ORs for this term (module docstring)."""
    grams = distinct(term)
    if len(grams) <= MAX_TRIGRAMS:
        return grams
    params = {f"m{n}": f"{COLUMNS[field]} : {phrase(gram)}" for n, gram in enumerate(grams)}
    counts = dict.fromkeys(grams, CAP)
    for k, count in session.execute(_counts(len(grams)), params):
        counts[grams[k]] = count
    # A trigram no row holds finds nothing: the rarest of those some row holds.
    chosen = [min(group, key=lambda g: (counts[g] == 0, counts[g])) for group in groups(grams)]
    rare = [gram for gram in chosen if counts[gram] < CAP]
    if rare and sum(counts[gram] for gram in rare) >= FUZZY_CANDIDATES:
        return rare
    return chosen


def fragment(field: str, grams: list[str]) -> str:
    """The typo query's part for one filter: any of these trigrams in the column."""
    return f"{COLUMNS[field]} : ({' OR '.join(map(phrase, grams))})"
