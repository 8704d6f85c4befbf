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
