"""Queries on CAS accounts."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bitimage.cas.models import CasAccount


class CasAccountRepository:
    """Reads and writes CAS accounts in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_email(self, email: str) -> CasAccount | None:
        """The account with this (lower-cased) email."""
        return self.session.scalars(select(CasAccount).where(CasAccount.email == email)).first()

    def all(self) -> list[CasAccount]:
        """Every account, oldest first."""
        query = select(CasAccount).order_by(CasAccount.created_at, CasAccount.id)
        return list(self.session.scalars(query))

    def add(self, account: CasAccount) -> None:
        """Insert an account (flushed, so a taken email fails here)."""
        self.session.add(account)
        self.session.flush()

    def exists(self, account_id: uuid.UUID) -> bool:
        """Whether the account is still there."""
        found = self.session.scalar(select(CasAccount.id).where(CasAccount.id == account_id))
        return found is not None

    def delete(self, account_id: uuid.UUID) -> None:
        """Delete the account (nothing happens when it is gone already)."""
        self.session.execute(delete(CasAccount).where(CasAccount.id == account_id))
