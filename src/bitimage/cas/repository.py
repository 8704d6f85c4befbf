"""Queries on CAS accounts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bitimage.cas.models import CasAccount


class CasAccountRepository:
    """Reads and writes CAS accounts in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_email(self, email: str) -> CasAccount | None:
        """The account with this (lower-cased) email."""
        return self.session.scalars(select(CasAccount).where(CasAccount.email == email)).first()

    def add(self, account: CasAccount) -> None:
        """Insert an account (flushed, so a taken email fails here)."""
        self.session.add(account)
        self.session.flush()
