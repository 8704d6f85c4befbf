"""CAS routes, mounted at /cas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status

from bitimage.cas.schemas import (
    AuthorizeAnswer,
    AuthorizeRequest,
    Credentials,
    Jwks,
    LoginAnswer,
    SignupAnswer,
    SignupCredentials,
)
from bitimage.cas.service import CasService
from bitimage.deps import ReadSessionDep, WriteSessionDep, provide
from bitimage.errors import (
    AuthorizationFailed,
    BodyTooLarge,
    Conflict,
    ServiceUnavailable,
    TooManyRequests,
    responses,
)

CasServiceDep = Annotated[CasService, Depends(provide("cas", CasService))]

router = APIRouter(prefix="/cas", tags=["auth (CAS)"])


def client_address(request: Request) -> str:
    """The caller's address, the key of the login and signup rate limits."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses=responses(Conflict, BodyTooLarge, TooManyRequests, ServiceUnavailable),
    summary="Create a CAS account",
)
def signup(
    body: SignupCredentials, client: ClientAddress, session: WriteSessionDep, cas: CasServiceDep
) -> SignupAnswer:
    """Sign up with an email and a password of at least 8 characters."""
    account = cas.signup(session, body.email, body.password, client)
    return SignupAnswer(user_id=account.id, email=account.email)


@router.post(
    "/loginSubmit",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(AuthorizationFailed, BodyTooLarge, TooManyRequests, ServiceUnavailable),
    summary="Log in and get a token",
)
def login(
    body: Credentials, client: ClientAddress, session: ReadSessionDep, cas: CasServiceDep
) -> LoginAnswer:
    """Exchange credentials for a signed JWT (`{"token": ...}`)."""
    return LoginAnswer(token=cas.login(session, body.email, body.password, client))


@router.post(
    "/authorizeUser",
    responses=responses(BodyTooLarge, ServiceUnavailable),
    summary="Check a token (for services that do not verify JWTs themselves)",
)
def authorize_user(
    body: AuthorizeRequest, session: ReadSessionDep, cas: CasServiceDep
) -> AuthorizeAnswer:
    """Say whether a token is valid and its account exists, and whose; kept for old clients."""
    identity = cas.authorize(session, body.token)
    return AuthorizeAnswer(
        is_user_authorized=identity is not None, user_id=identity.user_id if identity else None
    )


@router.get("/.well-known/jwks.json", response_model=Jwks, summary="The CAS public keys")
def jwks(cas: CasServiceDep) -> dict[str, Any]:
    """The keys tokens are signed with, for verifiers elsewhere."""
    return cas.issuer.jwks()
