"""What a database error means: contention to run again, or a server out of reach.

Everything else a database raises is a refused statement: a bug, never an outage (docs/API.md).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
_SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary result codes)


def is_contention(exc: BaseException) -> bool:
    """True for a deadlock, a serialization failure or a busy SQLite: the work may run again."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in _SQLITE_BUSY_CODES
        return "locked" in str(orig) or "busy" in str(orig)
    return False


# SQLSTATEs of a server out of reach or out of order, whatever the statement: a lost or refused
# connection (class 08), insufficient resources (53: disk full, out of memory, too many
# connections), shutting down or starting (57P01-57P03), system errors (58: I/O).
_CONNECTION_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "58")
# SQLite errors that mean the database file itself is out of reach, whatever the statement.
_SQLITE_OUTAGES = ("unable to open", "disk i/o error", "database or disk is full")


def is_connection_failure(exc: DBAPIError) -> bool:
    """True when the database could not be reached, as opposed to refusing a statement."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_CONNECTION_SQLSTATES)
    if type(orig).__module__.startswith("psycopg"):
        # psycopg gives no SQLSTATE when it never reached a server (refused, unknown host...).
        return type(orig).__name__ == "OperationalError"
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig).lower().startswith(_SQLITE_OUTAGES)
    return False
