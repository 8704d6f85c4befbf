"""Annotated dependency aliases: a request's unit of work, and one service at a time.

Routes never see the whole container: each feature declares a typed alias per service it
uses (`provide`), so this module imports no feature and no bootstrap. The caller's identity
is the CAS feature's (cas/deps.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from bitimage.db.session import Database

T = TypeVar("T")


def provide(attribute: str, kind: type[T]) -> Callable[[Request], Coroutine[Any, Any, T]]:
    """A dependency answering one service of the app's container, typed as `kind`."""

    # async: a plain def dependency costs every request a hop through the thread pool.
    async def dependency(request: Request) -> T:
        return cast(T, getattr(request.app.state.container, attribute))

    dependency.__name__ = f"{attribute}_service"
    return dependency


DatabaseDep = Annotated[Database, Depends(provide("database", Database))]


def _session(database: Database, write: bool) -> Iterator[Session]:
    with database.transaction(write) as session:
        yield session


def write_session(database: DatabaseDep) -> Iterator[Session]:
    """The unit of work of a request that writes; committed before the answer is sent."""
    yield from _session(database, write=True)


def read_session(database: DatabaseDep) -> Iterator[Session]:
    """The unit of work of a request that only reads."""
    yield from _session(database, write=False)


def replica_session(database: DatabaseDep) -> Iterator[Session]:
    """A read that may lag the primary (searches): on BITIMAGE_DATABASE_READ_URL if set."""
    with database.transaction(write=False, replica=True) as session:
        yield session


# scope="function": commit before the response goes out, so a failed commit is what the client sees.
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]
ReplicaSessionDep = Annotated[Session, Depends(replica_session, scope="function")]
