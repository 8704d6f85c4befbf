"""CAS use cases: sign up, log in, check a token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bitimage.cas.models import CasAccount
from bitimage.cas.passwords import PasswordHashing
from bitimage.cas.ratelimit import RateLimiter, address_key
from bitimage.cas.repository import CasAccountRepository
from bitimage.cas.tokens import Identity, InvalidToken, TokenIssuer, TokenVerifier
from bitimage.errors import AuthorizationFailed, Conflict, InvalidRequest, TooManyRequests

MIN_PASSWORD_LENGTH = 8


@dataclass
class CasService:
    """Accounts and tokens of the built-in Central Auth Service."""

    passwords: PasswordHashing
    issuer: TokenIssuer
    verifier: TokenVerifier
    login_limiter: RateLimiter
    signup_limiter: RateLimiter

    def signup(self, session: Session, email: str, password: str, client: str) -> CasAccount:
        """Create an account; 409 if the email is taken, 400 if weak, 429 past the limit."""
        wait = self.signup_limiter.hit(address_key(client))
        if wait:
            raise TooManyRequests(
                f"Too many signups from {client}", headers={"Retry-After": str(wait)}
            )
        if len(password) < MIN_PASSWORD_LENGTH or password.isspace():
            raise InvalidRequest(
                f"password must be at least {MIN_PASSWORD_LENGTH} characters",
                "Choose a longer password",
            )
        # Hashed before the session's first statement: on SQLite that statement takes the one
        # write lock (BEGIN IMMEDIATE), and argon2id inside it stalled every writer for 0.2 s.
        password_hash = self.passwords.hash(password)
        repo = CasAccountRepository(session)
        if repo.by_email(email) is not None:
            raise Conflict(f"An account with email {email} already exists", "Log in instead")
        account = CasAccount(id=uuid.uuid4(), email=email, password_hash=password_hash)
        try:
            with session.begin_nested():
                repo.add(account)
        except IntegrityError:
            raise Conflict(
                f"An account with email {email} already exists", "Log in instead"
            ) from None
        return account

    def login(self, session: Session, email: str, password: str, client: str) -> str:
        """A token for valid credentials; 429 past the attempt limit, 401 otherwise."""
        wait = self.login_limiter.hit(f"{client}|{email}")
        if wait:
            raise TooManyRequests(
                f"Too many login attempts for {email}", headers={"Retry-After": str(wait)}
            )
        account = CasAccountRepository(session).by_email(email)
        if not self.passwords.verify(account.password_hash if account else None, password):
            raise AuthorizationFailed(
                "Wrong email or password", "Check your credentials, or sign up first"
            )
        assert account is not None
        return self.issuer.issue(account.id, account.email)

    def authorize(self, session: Session, token: str) -> Identity | None:
        """The identity behind a valid token whose account still exists; None otherwise."""
        try:
            identity = self.verifier.verify(token)
        except InvalidToken:
            return None
        return identity if self.identity_exists(session, identity.user_id) else None

    def identity_exists(self, session: Session, user_id: uuid.UUID) -> bool:
        """Whether the CAS account behind `user_id` still exists (it goes with the account)."""
        return CasAccountRepository(session).exists(user_id)

    def identities(self, session: Session) -> list[CasAccount]:
        """Every sign-up, oldest first (the operator's listing puts emails beside accounts)."""
        return CasAccountRepository(session).all()

    def identity_of(self, session: Session, email: str) -> uuid.UUID | None:
        """The id signed up with `email` (compared as signup stores it), or None."""
        account = CasAccountRepository(session).by_email(email.strip().lower())
        return None if account is None else account.id

    def delete_identity(self, session: Session, user_id: uuid.UUID) -> None:
        """Delete the CAS account behind `user_id`, in the caller's transaction."""
        CasAccountRepository(session).delete(user_id)
