"""Engines and sessions: one engine per process, SQLite tuned for concurrent requests."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bitimage.db.errors import is_contention
from bitimage.errors import ServiceUnavailable

# Execution option that makes a SQLite transaction take the write lock at BEGIN.
# A deferred transaction that reads and then writes fails at once with "database is
# locked" when another writer got in between; BEGIN IMMEDIATE waits on busy_timeout instead.
IMMEDIATE = "bitimage_begin_immediate"
# Execution option of a transaction whose commit need not survive a power cut (see
# Database.transaction): SQLite commits it without syncing the WAL, PostgreSQL without
# waiting for its WAL flush. A later durable commit syncs it along with its own.
FLEETING = "bitimage_fleeting_commit"
_SYNCHRONOUS = "bitimage_synchronous"

log = logging.getLogger("bitimage.db")
_HOLDS_WRITE_LOCK = "bitimage_holds_write_lock"


_BUSY_TIMEOUT = 30.0
_MMAP_BYTES = 1 << 30  # address space, not memory: pages are the OS cache's, shared
_POLL_SECONDS = (0.0002, 0.0005, 0.001, 0.002)  # then every 2 ms


def _begin_immediate(conn: Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's writer by polling every 2 ms at most.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between tries: with
    `serve --processes 2` under load, a writer waited up to 640 ms (p90 108 ms) for a lock
    held a few ms, while its own process's writers queued behind it (bench_ingest).
    Polling brought that to 59 ms (p90 12-52 ms). Gives up after _BUSY_TIMEOUT seconds.
    """
    raw = conn.connection.dbapi_connection
    assert raw is not None  # a connection in use always has its DBAPI connection
    deadline = time.monotonic() + _BUSY_TIMEOUT
    raw.execute("PRAGMA busy_timeout=0")  # our polling replaces SQLite's for this statement
    try:
        for attempt in itertools.count():
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    # Raised as SQLAlchemy raises it, so it is answered like any database error.
                    raise OperationalError("BEGIN IMMEDIATE", (), exc) from exc
            time.sleep(_POLL_SECONDS[min(attempt, len(_POLL_SECONDS) - 1)])
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")


def create_db_engine(url: str) -> Engine:
    """An engine for `url`; PostgreSQL: each statement planned for its values; on SQLite: WAL,
    foreign keys, busy timeout and explicit BEGIN."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        # No server-side prepared statements: psycopg prepares a statement run 5 times, and
        # PostgreSQL then plans it once for any values. Search plans depend on the values (which
        # tag or label, how common a name): a generic plan read a common label's every posting
        # (tag + `animal`: 1.9 s against 16 ms planned for the values, issue 17's benchmark).
        return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT})
    if engine.url.database not in (None, "", ":memory:") and not engine.url.query.get("uri"):
        create_private_file(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: each commit syncs the WAL before it returns. NORMAL syncs only at checkpoints,
        # so a power cut could take back a confirmation whose answer was sent, or a deletion
        # whose bytes were already purged after its commit: a row without bytes.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT * 1000)}")
        # Reads through a memory map skip a system call a page: a probe of the vector index or
        # a search reads hundreds of scattered pages (bench_similar, bench_search).
        cursor.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        cursor.close()

    # Writers of this process queue on a lock instead of SQLite's busy handler, which polls
    # with sleeps of up to 100 ms; writers of other processes are waited for by polling.
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        # SQLite refuses to change the level inside a transaction: set it before BEGIN,
        # only when it differs from what this connection last used.
        level = "NORMAL" if options.get(FLEETING, False) else "FULL"
        # Straight to the driver: these run once per transaction, and SQLAlchemy's execution
        # path cost more than the statements (a storage PUT's check is one short read).
        raw = conn.connection.dbapi_connection
        assert raw is not None  # a connection in use always has its DBAPI connection
        if conn.info.get(_SYNCHRONOUS) != level:
            raw.execute(f"PRAGMA synchronous={level}")
            conn.info[_SYNCHRONOUS] = level
        if not options.get(IMMEDIATE, False):
            raw.execute("BEGIN")
            return
        # A bounded wait: should a holder ever leak, SQLite's own locking still applies.
        conn.info[_HOLDS_WRITE_LOCK] = write_lock.acquire(timeout=30)
        try:
            _begin_immediate(conn)
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Connection) -> None:
        if conn.info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    # Released as COMMIT/ROLLBACK is issued: the next writer waits only for that statement.
    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)
    return engine


def create_private_file(path: str) -> None:
    """Create an empty SQLite file with mode 0600, unless it exists (its mode is then kept).

    It holds emails and password hashes; SQLite opens its -wal and -shm files with the mode of
    the database file, so they are private too. An empty file is an empty database.
    """
    # It exists, or cannot be made: SQLite reports the latter when it connects.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


T = TypeVar("T")
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit = off")

TRANSACTION_ATTEMPTS = 4  # a deadlock victim usually wins its second run; 4 bounds a storm
_BACKOFF_BASE = 0.02  # seconds before the second run; doubled for each run after it


def _cause(exc: DBAPIError) -> str:
    return f"{type(exc.orig).__name__}: {str(exc.orig).strip()}"


def _backoff(attempt: int) -> float:
    # Jittered: two deadlock victims that slept the same time would meet again.
    return float(_BACKOFF_BASE * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311


def _busy(exc: DBAPIError, attempts: int) -> ServiceUnavailable:
    # Contention, not an outage: the database answered, other transactions held the rows.
    log.warning("database contention: gave up after %d attempt(s): %s", attempts, _cause(exc))
    return ServiceUnavailable(
        "The database was busy with concurrent changes to the same rows; nothing was changed",
        "Send the request again after the number of seconds in Retry-After",
        headers={"Retry-After": "1"},
    )


class Database:
    """The engine plus two session factories: read (deferred) and write (immediate on SQLite)."""

    def __init__(self, engine: Engine, replica_engine: Engine | None = None) -> None:
        self.engine = engine
        self.replica_engine = replica_engine
        self.reader = sessionmaker(engine, expire_on_commit=False)
        # Reads that may lag the primary a little (searches); the primary when there is none.
        self.replica = sessionmaker(replica_engine or engine, expire_on_commit=False)
        self.writer = sessionmaker(
            engine.execution_options(**{IMMEDIATE: True}), expire_on_commit=False
        )
        self.fleeting = sessionmaker(
            engine.execution_options(**{IMMEDIATE: True, FLEETING: True}),
            expire_on_commit=False,
        )

    @property
    def dialect(self) -> str:
        """The database's dialect name: 'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(
        self, write: bool = True, durable: bool = True, replica: bool = False
    ) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise.

        A block cannot be run again from here: contention (a deadlock, a busy database) is
        reported at once as ServiceUnavailable. Work that can be re-run goes through run().
        `durable=False` (a write whose loss in a power cut is harmless, such as a notify's
        claim) commits without waiting for the disk: the commit is still atomic.
        `replica=True` (a read that may miss the latest commits) reads the streaming replica
        of BITIMAGE_DATABASE_READ_URL, when there is one.
        """
        try:
            with self._attempt(write, durable, replica) as session:
                yield session
        except DBAPIError as exc:
            if not is_contention(exc):
                raise
            raise _busy(exc, attempts=1) from exc

    def run(
        self,
        work: Callable[[Session], T],
        *,
        write: bool = True,
        attempts: int = TRANSACTION_ATTEMPTS,
    ) -> T:
        """Run `work` in a transaction; on contention roll back and run it all again.

        `work` must do nothing outside the session that a second run would repeat (use
        after_commit for that). After `attempts` tries the contention is ServiceUnavailable.
        """
        attempt = 1
        while True:
            try:
                with self._attempt(write) as session:
                    return work(session)
            except DBAPIError as exc:
                if not is_contention(exc):
                    raise
                if attempt >= attempts:
                    raise _busy(exc, attempts=attempt) from exc
                log.info("database contention (%s); running the transaction again", _cause(exc))
            time.sleep(_backoff(attempt))
            attempt += 1

    @contextmanager
    def _attempt(
        self, write: bool, durable: bool = True, replica: bool = False
    ) -> Iterator[Session]:
        if write:
            factory = self.writer if durable else self.fleeting
        else:
            factory = self.replica if replica else self.reader
        with factory() as session:
            try:
                if not durable and self.dialect == "postgresql":
                    session.execute(_NO_FLUSH_WAIT)
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                discard_after_commit(session)
                raise
            # Clean-ups queued by the services run only once their rows are committed.
            run_after_commit(session)


AfterCommit = Callable[[], None]


def after_commit(session: Session, action: AfterCommit) -> None:
    """Run `action` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(action)


def _run_outside_transaction(actions: list[AfterCommit], what: str) -> None:
    for action in actions:
        try:
            action()
        except Exception:
            # The transaction's outcome stands and must be reported as such; what the action
            # left behind (an object to delete) is found and finished by the sweeper.
            log.exception("%s failed; the sweeper will finish it", what)


def run_after_commit(session: Session) -> None:
    """Run and clear the actions queued with after_commit; call right after a commit."""
    session.info.pop("on_rollback", None)
    _run_outside_transaction(session.info.pop("after_commit", []), "clean-up after commit")


def on_rollback(session: Session, action: AfterCommit) -> None:
    """Run `action` if the session's transaction is rolled back (to undo work outside it)."""
    session.info.setdefault("on_rollback", []).append(action)


def discard_after_commit(session: Session) -> None:
    """Drop the after-commit actions and run the on-rollback ones; call after a rollback."""
    session.info.pop("after_commit", None)
    _run_outside_transaction(session.info.pop("on_rollback", []), "undo after rollback")
