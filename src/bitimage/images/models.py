"""Images, their tags and content labels, and issued upload grants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from bitimage.db.base import Base, UTCDateTime, utcnow


class UploadGrant(Base):
    """An image id issued with a pre-signed upload URL, waiting to be confirmed."""

    __tablename__ = "upload_grants"
    __table_args__ = (Index("ix_upload_grants_expires_at", "expires_at"),)

    image_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    staging_key: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set while a notify of this id runs (one at a time; a crashed one's claim goes stale).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # A notify moved the upload to its pinned key: the URL takes no more PUTs.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Image(Base):
    """A confirmed image whose bytes live at `storage_key` in the permanent area."""

    __tablename__ = "images"
    __table_args__ = (
        Index("ix_images_user_created", "user_id", "created_at"),
        Index("ix_images_public_created", "is_private", "created_at"),
        Index("ix_images_user_hash", "user_id", "hash"),
        # Near-duplicate candidates by dHash band (images/perceptual.py): in an owner's
        # library, and among public images for a stranger's view.
        *(Index(f"ix_images_user_dhash{n}", "user_id", f"dhash{n}") for n in range(4)),
        *(
            Index(
                f"ix_images_public_dhash{n}",
                f"dhash{n}",
                postgresql_where=text("NOT is_private"),
                sqlite_where=text("NOT is_private"),
            )
            for n in range(4)
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    hash: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    is_private: Mapped[bool] = mapped_column(Boolean)
    storage_key: Mapped[str] = mapped_column(String(200))
    analysis_status: Mapped[str] = mapped_column(String(16), default="pending")
    # "none", "flagged" (explicit content: hidden from the public) or "cleared" (by a person).
    moderation: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    analysis_error: Mapped[str | None] = mapped_column(Text, default=None)
    analysis_facts: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    analysed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Renditions (thumbnail and preview, at keys derived from storage_key): when they were
    # made, and the ThumbHash painted before the thumbnail arrives; None until then.
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    placeholder: Mapped[str | None] = mapped_column(String(64), default=None)
    # The copy strangers are served (location and camera metadata removed) exists.
    public_copy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The 64-bit dHash in four 16-bit bands, most significant first; None until analysed.
    dhash0: Mapped[int | None] = mapped_column(Integer, default=None)
    dhash1: Mapped[int | None] = mapped_column(Integer, default=None)
    dhash2: Mapped[int | None] = mapped_column(Integer, default=None)
    dhash3: Mapped[int | None] = mapped_column(Integer, default=None)


class Tag(Base):
    """A tag name, shared by every image that carries it."""

    __tablename__ = "tags"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class ImageTag(Base):
    """Links an image to one of its tags, with the image's search scope (owner, time, visible)."""

    __tablename__ = "image_tags"
    __table_args__ = (
        Index("ix_tags_owner_posting", "user_id", "tag_id", "created_at", "image_id"),
        Index(
            "ix_tags_public_posting",
            "tag_id",
            "created_at",
            "image_id",
            postgresql_where=text("visible"),
            sqlite_where=text("visible"),
        ),
    )

    image_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The image's scope, copied so that a tag's postings are read in scope and in order.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visible: Mapped[bool] = mapped_column(Boolean)


class ContentLabel(Base):
    """A label the analysis found in some image ("cat", "vegetable")."""

    __tablename__ = "content_labels"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class ImageContentLabel(Base):
    """Links an image to a content label with the analyser's confidence in [0, 1]."""

    __tablename__ = "image_content_labels"
    __table_args__ = (
        Index(
            "ix_content_labels_owner_posting",
            "user_id",
            "label_id",
            "confidence",
            "created_at",
            "image_id",
            postgresql_include=["analyser"],  # a scan compares analysers: index-only (0016)
        ),
        Index(
            "ix_content_labels_public_posting",
            "label_id",
            "confidence",
            "created_at",
            "image_id",
            postgresql_where=text("visible"),
            sqlite_where=text("visible"),
            postgresql_include=["analyser"],
        ),
    )

    image_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("content_labels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    confidence: Mapped[float] = mapped_column(Float)
    analyser: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(64), default="")
    # The image's scope (owner, time, public and not flagged), kept by search/scope.py.
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visible: Mapped[bool] = mapped_column(Boolean)


class StoragePurge(Base):
    """Objects (a key, or every key under a prefix) to delete once their rows are gone."""

    __tablename__ = "storage_purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    is_prefix: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
