"""Imports every table so that Base.metadata is complete (for Alembic and tests)."""

from bitimage.cas.models import CasAccount
from bitimage.images.models import (
    ContentLabel,
    Image,
    ImageContentLabel,
    ImageTag,
    StoragePurge,
    Tag,
    UploadGrant,
)
from bitimage.queue.models import Job
from bitimage.users.models import User

__all__ = [
    "CasAccount",
    "ContentLabel",
    "Image",
    "ImageContentLabel",
    "ImageTag",
    "Job",
    "StoragePurge",
    "Tag",
    "UploadGrant",
    "User",
]
