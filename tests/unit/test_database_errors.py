"""Which database errors are an outage (503) and which are a bug (500)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy.exc import DBAPIError

from bitimage.db.errors import is_connection_failure


def _wrapped(orig: BaseException, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "orig",
    [
        psycopg.OperationalError("connection failed: Connection refused"),  # no SQLSTATE
        pg.ConnectionFailure("server closed the connection unexpectedly"),  # 08006
        pg.AdminShutdown("terminating connection due to administrator command"),  # 57P01
        pg.TooManyConnections("sorry, too many clients already"),  # 53300
        pg.DiskFull("could not extend file"),  # 53100
        pg.IoError("could not read block"),  # 58030
        sqlite3.OperationalError("unable to open database file"),
        sqlite3.OperationalError("disk I/O error"),
    ],
)
def test_outages(orig: BaseException) -> None:
    assert is_connection_failure(_wrapped(orig))


@pytest.mark.parametrize(
    "orig",
    [
        pg.UndefinedColumn('column "x" does not exist'),  # 42703
        pg.UntranslatableCharacter("unsupported Unicode escape sequence"),
        pg.SyntaxError("syntax error in tsquery"),
        pg.StatementTooComplex("stack depth limit exceeded"),  # 54001
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        sqlite3.OperationalError("no such column: x"),
        sqlite3.OperationalError('fts5: syntax error near "\x00"'),
        sqlite3.IntegrityError("UNIQUE constraint failed: images.id"),
    ],
)
def test_statements_the_database_refused_are_not_outages(orig: BaseException) -> None:
    assert not is_connection_failure(_wrapped(orig))


def test_an_invalidated_connection_is_an_outage() -> None:
    assert is_connection_failure(_wrapped(RuntimeError("gone"), invalidated=True))
