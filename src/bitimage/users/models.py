"""The users table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from bitimage.db.base import Base, UTCDateTime, utcnow


class User(Base):
    """A Bit-image account; its id is the CAS user id from the token."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    image_upload_count: Mapped[int] = mapped_column(Integer, default=0)
    image_upload_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
