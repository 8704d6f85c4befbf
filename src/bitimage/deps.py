"""Annotated dependency aliases: the container, sessions that alone commit, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bitimage.cas.tokens import Identity, InvalidToken
from bitimage.errors import AuthorizationFailed

if TYPE_CHECKING:
    from bitimage.bootstrap import Container


async def get_container(request: Request) -> Container:
    """The container the app was built with."""
    # async: a plain def dependency costs every request a hop through the thread pool.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated["Container", Depends(get_container)]


def _session(container: Container, write: bool) -> Iterator[Session]:
    with container.database.transaction(write) as session:
        yield session


def write_session(container: ContainerDep) -> Iterator[Session]:
    """A session for a request that writes; committed before the answer is sent."""
    yield from _session(container, write=True)


def read_session(container: ContainerDep) -> Iterator[Session]:
    """A session for a request that only reads."""
    yield from _session(container, write=False)


# scope="function": commit before the response goes out, so a failed commit is what the client sees.
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /cas/loginSubmit")


async def current_identity(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The caller, from a locally verified bearer token; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthorizationFailed("No bearer token was sent")
    verifier, token = container.verifier, credentials.credentials
    # A token verified moments ago is answered on the event loop; a new one is checked in a
    # worker thread, since an external issuer's keys may have to be fetched first.
    try:
        identity = verifier.cached(token)
        return identity if identity is not None else await run_in_threadpool(verifier.verify, token)
    except InvalidToken as exc:
        raise AuthorizationFailed(str(exc)) from None


CurrentUser = Annotated[Identity, Depends(current_identity)]


async def optional_identity(
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity | None:
    """The caller when a token is sent (401 if it is bad), else None."""
    if credentials is None:
        return None
    return await current_identity(container, credentials)


OptionalUser = Annotated[Identity | None, Depends(optional_identity)]
