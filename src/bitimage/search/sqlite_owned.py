"""SQLite, private scope: an owner with few images is searched by reading their own rows.

FTS5 cannot be limited to one owner: a trigram MATCH reads every row holding the term's
trigrams, across all owners, and only then are other owners' rows dropped (at 1M images, tens
of thousands of rows for a common word). An owner's own rows are found through
ix_image_search_rows_owner, so when the owner has at most OWNER_SCAN images, each filter is a
substring test (LIKE) on those rows, and the fuzzy tier's candidates are those rows sharing a
trigram with every filter, those sharing the most first: both bounded by the owner's count.
Above it (one owner with most of the database) the FTS5 index stays the cheaper read.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    bindparam,
    func,
    select,
    text,
    type_coerce,
)

from bitimage.search.query import COLUMNS, FUZZY_CANDIDATES, IMAGES, ONE, ZERO, Term, like_pattern
from bitimage.search.ranking import trigrams

OWNER_SCAN = 30_000  # the crossover measured at 1M images (README, SQLite search)
LIKE = "like"

# At most crossover + 1 index entries: whether the owner is under the crossover.
OWNER_COUNT = text(
    "SELECT count(*) FROM (SELECT 1 FROM image_search_rows WHERE user_id = :owner LIMIT :cap)"
)


class OwnedMixin:
    """A dialect whose filters are all LIKE on the owner's rows (the scoped rows lead)."""

    _by_rows: FromClause

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """The owner's rows first, their text by rowid (and with `hashed` the images)."""
        rows = self._by_rows
        return rows.join(IMAGES, IMAGES.c.id == self._by_rows.c.image_id) if hashed else rows

    def contains(self, field: str, term: str) -> Term:
        """A LIKE on the lower-cased column, whatever the term's length."""
        if field == "name":
            params: dict[str, Any] = {"q_name": term}
        else:
            params = {f"framed_{field}": "\n" + term + "\n"}
        return Term(LIKE, params | {f"like_{field}": like_pattern(term)})


@functools.lru_cache(maxsize=64)
def candidates(
    search: FromClause, scoped: FromClause, shape: tuple[tuple[str, int], ...]
) -> Select[Any]:
    """The owner's rows sharing a trigram with every filter, most shared first, then newest.

    `shape` is (field, number of the term's trigrams) per filter, bound as :g_<field>_<n>.
    """
    where: list[ColumnElement[bool]] = [scoped.c.user_id == bindparam("owner")]
    counts = []
    for field, count in shape:
        value = func.lower(search.c[COLUMNS[field]])
        if not count:  # a term too short for typos must be contained
            where.append(value.like(bindparam(f"like_{field}"), escape="\\"))
            counts.append(ONE)
            continue
        shared = functools.reduce(
            operator.add,
            [
                type_coerce(func.instr(value, bindparam(f"g_{field}_{n}")) > ZERO, Integer)
                for n in range(count)
            ],
        )
        where.append(shared > ZERO)
        counts.append(shared)
    held = functools.reduce(operator.add, counts)
    s = search
    return (
        select(scoped.c.image_id, scoped.c.created_at, s.c.name, s.c.tags, s.c.labels, s.c.text)
        .select_from(scoped.join(search, search.c.rowid == scoped.c.rowid))
        .where(*where)
        .order_by(held.desc(), scoped.c.created_at.desc(), scoped.c.image_id.desc())
        .limit(FUZZY_CANDIDATES)
    )


def candidate_params(filters: dict[str, str]) -> tuple[tuple[tuple[str, int], ...], dict[str, Any]]:
    """The candidates' shape and their trigrams (or LIKE pattern, for a term without any)."""
    shape, params = [], {}
    for field, term in filters.items():
        grams = sorted(trigrams(term))
        shape.append((field, len(grams)))
        params.update({f"g_{field}_{n}": gram for n, gram in enumerate(grams)})
        if not grams:
            params[f"like_{field}"] = like_pattern(term)
    return tuple(shape), params
