"""SQLite, private scope: an owner with few images is searched by reading their own rows.

FTS5 cannot be limited to one owner: a trigram MATCH reads every row holding the term's
trigrams, across all owners, and only then are other owners' rows dropped (at 1M images, tens
of thousands of rows for a common word). An owner's own rows are found through
ix_image_search_rows_owner, so when the owner has at most OWNER_SCAN images each filter is a
substring test (LIKE) on those rows, and the fuzzy tier's candidates are those rows sharing a
trigram with every filter, those sharing the most first: both bounded by the owner's count.
Above it (one owner with most of the database) the FTS5 index stays the cheaper read.

The text is read from FTS5's own content table (`image_search_content`, columns c0-c3 in the
FTS5 table's column order, keyed by its rowid): by rowid it is a plain table lookup, four times
cheaper than the same lookup through the virtual table. SQLite's LIKE ignores ASCII case as its
lower() does (neither folds other letters), so the lower-cased term needs no lower() per row.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.orm import Session

from bitimage.search.hints import leading
from bitimage.search.postings import TAGS, containing
from bitimage.search.query import (
    EXACT_WEIGHT,
    FUZZY_CANDIDATES,
    IMAGES,
    ONE,
    ZERO,
    Term,
    after_position,
    like_pattern,
)
from bitimage.search.ranking import Position

OWNER_SCAN = 30_000  # the crossover measured at 1M images (README, SQLite search)
FEW_TAGGED = 300  # a tag + label filter: the owner's rows lead when the tag has this few images
FEW_TAG_NAMES = 50  # more tags contain the term: it is common, the postings lead
MAX_TRIGRAMS = 4  # a long term's typo candidates share one of 4 of its trigrams, spread evenly
LIKE = "like"
_COLUMNS = {"name": "c0", "tag": "c1", "label": "c2", "text": "c3"}  # FTS5's column order
_CONTENT = table("image_search_content", column("id"), *map(column, _COLUMNS.values())).alias("s")
_ROWS = table(
    "image_search_rows", column("rowid"), column("image_id"), column("user_id"),
    column("created_at"), column("visible"), column("name"),
)  # fmt: skip
_NEWLINE = literal_column("char(10)", String)
_IMAGE_LABELS = table(
    "image_content_labels", column("image_id"), column("label_id"), column("confidence")
).alias("ol")
_LABELS = table("content_labels", column("id"), column("name")).alias("ocl")

# At most FEW_TAGGED + 1 entries of the scoped tag index (owner, tag, time, image).
_TAGGED = text(
    "SELECT count(*) FROM (SELECT 1 FROM image_tags WHERE user_id = :owner "
    "AND tag_id IN :ids LIMIT :cap)"
).bindparams(bindparam("ids", expanding=True))

# At most crossover + 1 index entries: whether the owner is under the crossover.
OWNER_COUNT = text(
    "SELECT count(*) FROM (SELECT 1 FROM image_search_rows WHERE user_id = :owner LIMIT :cap)"
)


def few_tagged(session: Session, owner: str, term: str) -> bool:
    """True when the owner has at most FEW_TAGGED images with a tag containing `term`.

    Then a tag + label filter reads the owner's rows (each tagged row's labels by its key);
    with more, the postings (search/combined.py) find a page sooner.
    """
    ids = [i for i, _ in session.execute(containing(TAGS), {"like": like_pattern(term)})]
    if not ids or len(ids) > FEW_TAG_NAMES:
        return not ids
    params = {"owner": owner, "ids": ids, "cap": FEW_TAGGED + 1}
    return bool(session.execute(_TAGGED, params).scalar_one() <= FEW_TAGGED)


def _value(field: str) -> ColumnElement[Any]:
    # The name from the owner's index (migration 0015), the other texts from FTS5's content.
    return _ROWS.c.name if field == "name" else _CONTENT.c[_COLUMNS[field]]


class SqliteValues:
    """How SQLite stores ids and times, for both of its dialects (FTS5 and the owner's rows)."""

    def id_value(self, image_id: str) -> Any:
        """Ids are stored as hex."""
        return image_id

    def time_value(self, moment: str) -> Any:
        """Times compare as the text SQLite stores."""
        return moment

    def position(self, tier: int, score: float, created_at: Any, image_id: Any) -> Position:
        """Ids and times come back as the text they are stored as."""
        return Position(tier, score, str(created_at), str(image_id))


class OwnedSearchSql(SqliteValues):
    """The private scope's fragments under the crossover: LIKE on the owner's rows, no FTS5."""

    search = _CONTENT
    ranks_by_index = False
    text_index: ColumnElement[bool] | None = None
    scoped = _ROWS
    _by_rows = _ROWS.join(_CONTENT, _CONTENT.c.id == _ROWS.c.rowid)

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """The owner's rows first, their text by rowid (and with `hashed` the images)."""
        rows = self._by_rows
        return rows.join(IMAGES, IMAGES.c.id == _ROWS.c.image_id) if hashed else rows

    def contains(self, field: str, term: str) -> Term:
        """A LIKE on the column, whatever the term's length."""
        if field == "name":
            params: dict[str, Any] = {"q_name": term}
        else:
            params = {f"framed_{field}": "\n" + term + "\n"}
        return Term(LIKE, params | {f"like_{field}": like_pattern(term)})

    def similar(self, field: str, term: str) -> Term:
        """Unused: the candidates are `candidates()`, ordered by trigrams shared."""
        raise NotImplementedError

    def predicate(self, form: str, field: str) -> ColumnElement[bool]:
        """LIKE on the text as written (LIKE ignores ASCII case)."""
        assert form == LIKE, form
        return _value(field).like(bindparam(f"like_{field}"), escape="\\")

    def exact(self, field: str) -> ColumnElement[Any]:
        """The lower-cased name equals the term, or a newline-framed line is the term."""
        value = func.lower(_value(field))
        if field == "name":
            return type_coerce(value == bindparam("q_name"), Integer)
        lines = _NEWLINE.concat(value).concat(_NEWLINE)
        return type_coerce(func.instr(lines, bindparam(f"framed_{field}")) > ZERO, Integer)

    def candidate_order(self, fields: Sequence[str]) -> ColumnElement[Any]:
        """Unused: see `similar`."""
        raise NotImplementedError


OWNED = OwnedSearchSql()


class OwnedNameSql(OwnedSearchSql):
    """A lone name filter: the owner's index holds every column read, so FTS5 is not joined."""

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """The owner's rows alone (a hash filter never comes here: see SqliteSearchIndex)."""
        assert not hashed
        return _ROWS


OWNED_NAME = OwnedNameSql()


class ScannedSearchSql(OwnedSearchSql):
    """Filters under three characters each, above the crossover or public: no trigram for
    FTS5 to look up, so every row is read. FTS5's content table is read in its own order,
    each row's scope then by its key (a CROSS JOIN: SQLite otherwise read the owner's index,
    each row's text by a random lookup). Through the FTS5 table the same scan cost twice
    as much: one owner of 100,000 images, text `no`, 38.8 -> 18.7 ms."""

    def rows(self, by_index: bool, hashed: bool) -> FromClause:
        """FTS5's content first, then the search rows (a hash filter never comes here)."""
        assert not hashed
        return leading(_CONTENT, _ROWS, _ROWS.c.rowid == _CONTENT.c.id)


SCANNED = ScannedSearchSql()


@functools.lru_cache(maxsize=64)
def candidates(shape: tuple[tuple[str, int], ...]) -> Select[Any]:
    """The owner's rows sharing a trigram with every filter, most shared first, then newest.

    `shape` is (field, number of the term's trigrams) per filter, bound as :g_<field>_<n>.
    """
    where: list[ColumnElement[bool]] = [_ROWS.c.user_id == bindparam("owner")]
    counts = []
    for field, count in shape:
        value = _value(field)
        if not count:  # a term too short for typos must be contained
            where.append(value.like(bindparam(f"like_{field}"), escape="\\"))
            counts.append(ONE)
            continue
        held = [
            type_coerce(value.like(bindparam(f"g_{field}_{n}"), escape="\\"), Integer)
            for n in range(count)
        ]
        shared = functools.reduce(operator.add, held)
        where.append(shared > ZERO)
        counts.append(shared)
    s = _CONTENT.c
    rows: FromClause = OWNED._by_rows
    texts: list[ColumnElement[Any]] = [_ROWS.c.name, s.c1, s.c2, s.c3]
    if [field for field, _ in shape] == ["name"]:  # a lone name: scored on the name alone
        rows, texts = _ROWS, [_ROWS.c.name, *[literal_column("''", String)] * 3]
    return (
        select(_ROWS.c.image_id, _ROWS.c.created_at, *texts)
        .select_from(rows)
        .where(*where)
        .order_by(
            functools.reduce(operator.add, counts).desc(),
            _ROWS.c.created_at.desc(),
            _ROWS.c.image_id.desc(),
        )
        .limit(FUZZY_CANDIDATES)
    )


def spread(term: str) -> list[str]:
    """At most MAX_TRIGRAMS of the term's trigrams (in their order in it), evenly spaced.

    A typo spoils at most the three trigrams that hold it, so a one-typo match of a long term
    still shares some of them; a candidate sharing none is missed (README, SQLite search).
    FTS5's typo query uses the same few: a long file name's 21 trigrams read 21 doclists.
    """
    grams = list(dict.fromkeys(term[i : i + 3] for i in range(len(term) - 2)))
    if len(grams) <= MAX_TRIGRAMS:
        return grams
    step = len(grams) / MAX_TRIGRAMS
    return [grams[int(n * step)] for n in range(MAX_TRIGRAMS)]


def candidate_params(filters: dict[str, str]) -> tuple[tuple[tuple[str, int], ...], dict[str, Any]]:
    """The candidates' shape and each term's trigrams as LIKE patterns (or the term's own)."""
    shape, params = [], {}
    for field, term in filters.items():
        grams = spread(term)
        shape.append((field, len(grams)))
        params.update({f"g_{field}_{n}": like_pattern(gram) for n, gram in enumerate(grams)})
        if not grams:
            params[f"like_{field}"] = like_pattern(term)
    return tuple(shape), params


@functools.lru_cache(maxsize=4)
def tag_and_label(after: bool) -> Select[Any]:
    """Strong matches of a tag and a label filter among the owner's rows (query.strong's params).

    The owner's rows whose tags contain the term, then each one's labels by its key: bounded
    by the owner's count, where the postings of a rare tag with a common label are not.
    """
    exact_label = func.max(case((_LABELS.c.name == bindparam("lc_exact"), ONE), else_=ZERO))
    score: ColumnElement[Any] = literal_column(str(EXACT_WEIGHT)) * (
        OWNED.exact("tag") + exact_label
    ) + func.max(_IMAGE_LABELS.c.confidence)
    rows = OWNED._by_rows.join(_IMAGE_LABELS, _IMAGE_LABELS.c.image_id == _ROWS.c.image_id).join(
        _LABELS, _LABELS.c.id == _IMAGE_LABELS.c.label_id
    )
    statement = (
        select(_ROWS.c.image_id.label("id"), _ROWS.c.created_at, score.label("score"))
        .select_from(rows)
        .where(
            _ROWS.c.user_id == bindparam("owner"),
            OWNED.predicate(LIKE, "tag"),
            _LABELS.c.name.like(bindparam("lc_like"), escape="\\"),
            _IMAGE_LABELS.c.confidence >= bindparam("lc_min"),
        )
        .group_by(_ROWS.c.image_id)
    )
    if after:
        above: ColumnElement[Any] = bindparam("s", type_=Float())
        newer = after_position(_ROWS.c.created_at, _ROWS.c.image_id)
        statement = statement.having(or_(score < above, and_(score == above, newer)))
    return statement.order_by(
        literal_column("score").desc(), _ROWS.c.created_at.desc(), _ROWS.c.image_id.desc()
    ).limit(bindparam("limit"))
