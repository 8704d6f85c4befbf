"""Planner hints that only one dialect reads: the other gets the plain expression.

SQLite plans from sqlite_stat1 (db/statistics.py) and at times picks an index that matches
more of a statement's terms but reads far more rows. A term written `+column` there is no
index constraint (SQLite's documented way to steer it), while PostgreSQL's statements stay
exactly as they were.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import Join
from sqlalchemy.sql.functions import FunctionElement


class unindexed(FunctionElement[Any]):
    """`column`, which SQLite must not look up through an index (`+column` there)."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type  # compared and bound as the column itself


@compiles(unindexed)
def _plain(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


class leading(Join):
    """`left JOIN right ON onclause`, the left side read first: SQLite's CROSS JOIN.

    SQLite keeps a CROSS JOIN's order (its documented way to choose the outer loop); the
    other dialect gets the plain join. The left side must be a table, not a join.
    """

    inherit_cache = True


@compiles(leading, "sqlite")
def _cross(element: leading, compiler: SQLCompiler, **kw: Any) -> str:
    plain = str(compiler.visit_join(element, **kw))  # type: ignore[no-untyped-call]
    return plain.replace(" JOIN ", " CROSS JOIN ", 1)  # the first: the left side is a table
