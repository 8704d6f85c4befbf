"""The search statements, as each dialect compiles them: one shape, every value bound."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from bitimage.search import query as sql
from bitimage.search.ports import SearchQuery
from bitimage.search.postgres import POSTGRESQL
from bitimage.search.query import SearchDialect
from bitimage.search.ranking import Position
from bitimage.search.sqlite import SQLITE

DIALECTS: list[tuple[SearchDialect, Dialect]] = [
    (SQLITE, sqlite.dialect()),
    (POSTGRESQL, postgresql.psycopg.dialect()),  # type: ignore[no-untyped-call]
]
HOSTILE = "x' OR 1=1 --"  # a term that would change the SQL if it were formatted in
OWNER = uuid.UUID(int=7)
AFTER = Position(2, 2.5, "2026-01-01T00:00:00.000000+00:00", uuid.UUID(int=9).hex)
CASES: list[tuple[SearchQuery, dict[str, str], Position | None]] = [
    (SearchQuery(owner_id=OWNER, name=HOSTILE), {"name": HOSTILE}, None),
    (SearchQuery(owner_id=None, tag=HOSTILE), {"tag": HOSTILE}, AFTER),
    (SearchQuery(owner_id=OWNER, name="ab", hash="F" * 32), {"name": "ab"}, AFTER),
    (
        SearchQuery(owner_id=None, tag="red", label=HOSTILE, text="ok", min_confidence=0.5),
        {"tag": "red", "label": HOSTILE, "text": "ok"},
        None,
    ),
]


def _compiled(statement: Select[Any], params: dict[str, Any], dialect: Dialect) -> str:
    compiled = statement.compile(dialect=dialect)
    unbound = {name for name, bind in compiled.binds.items() if bind.value is None}
    assert unbound <= set(params), f"not bound: {unbound - set(params)}"
    assert set(params) <= set(compiled.binds), f"never used: {set(params) - set(compiled.binds)}"
    return str(compiled)


@pytest.mark.parametrize(("query", "filters", "after"), CASES)
def test_both_dialects_compile_one_shape(
    query: SearchQuery, filters: dict[str, str], after: Position | None
) -> None:
    """Same columns, same order; each statement binds exactly its parameters, never a term."""
    shapes = []
    for dialect, compiler in DIALECTS:
        strong, params = sql.strong(dialect, query, filters, after)
        unfiltered, unfiltered_params = sql.unfiltered(dialect, query, after)
        built = sql.fuzzy(dialect, query, filters)
        statements = [(strong, params), (unfiltered, unfiltered_params)]
        if built is None:  # no trigram in any term: FTS5 has nothing to rank candidates by
            assert dialect.ranks_by_index
        else:
            statements.append(built)
        for statement, values in statements:
            text = _compiled(statement, values, compiler)
            assert HOSTILE not in text
        # Filtered statements read the scope from the search rows, the unfiltered from images.
        scope = str(statements[0][0].compile(dialect=compiler))
        rows = "s" if dialect is POSTGRESQL else "image_search_rows"
        assert (f"WHERE {rows}.visible" in scope) == (query.owner_id is None)
        assert (f"{rows}.user_id = " in scope) == (query.owner_id is not None)
        unfiltered_text = str(unfiltered.compile(dialect=compiler))
        assert ("i.is_private = " in unfiltered_text) == (query.owner_id is None)
        assert f"ORDER BY score DESC, {rows}.created_at DESC, {rows}.image_id DESC" in scope
        shapes.append([list(s.selected_columns.keys()) for s, _ in statements[:2]])
        if built is not None:
            assert list(built[0].selected_columns.keys()) == [
                "id", "created_at", "name", "tags", "labels", "text"
            ]  # fmt: skip
    assert shapes[0] == shapes[1] == [["id", "created_at", "score"], ["id", "created_at"]]


def test_a_shape_is_built_once() -> None:
    """Another term of the same shape reuses the statement (building costs more than running)."""
    for dialect, _ in DIALECTS:
        first, _params = sql.strong(dialect, SearchQuery(owner_id=OWNER), {"tag": "red"}, None)
        again, params = sql.strong(dialect, SearchQuery(owner_id=OWNER), {"tag": "blue"}, None)
        assert again is first
        assert any("blue" in str(value) for value in params.values())
