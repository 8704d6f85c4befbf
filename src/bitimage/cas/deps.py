"""The caller of a request, from a locally verified bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from bitimage.cas.tokens import Identity, InvalidToken, TokenVerifier
from bitimage.deps import provide
from bitimage.errors import AuthorizationFailed

VerifierDep = Annotated[TokenVerifier, Depends(provide("verifier", TokenVerifier))]

_bearer = HTTPBearer(auto_error=False, description="A token from POST /cas/loginSubmit")


async def current_identity(
    verifier: VerifierDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The caller, from a locally verified bearer token; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthorizationFailed("No bearer token was sent")
    token = credentials.credentials
    # A token verified moments ago is answered on the event loop; a new one is checked in a
    # worker thread, since an external issuer's keys may have to be fetched first.
    try:
        identity = verifier.cached(token)
        return identity if identity is not None else await run_in_threadpool(verifier.verify, token)
    except InvalidToken as exc:
        raise AuthorizationFailed(str(exc)) from None


CurrentUser = Annotated[Identity, Depends(current_identity)]


async def optional_identity(
    verifier: VerifierDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity | None:
    """The caller when a token is sent (401 if it is bad), else None."""
    if credentials is None:
        return None
    return await current_identity(verifier, credentials)


OptionalUser = Annotated[Identity | None, Depends(optional_identity)]
