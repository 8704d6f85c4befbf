"""Object keys: built from generated ids only, so no client string ever becomes a path."""

from __future__ import annotations

import re
import uuid

STAGING_PREFIX = "staging/"
# Where notify moves a staged upload before checking it: no URL is ever signed for these
# keys, so the bytes checked are the bytes kept (a second PUT cannot reach them).
PINNED_PREFIX = "pinned/"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KEY_PATTERN = re.compile(rf"^(staging/|pinned/)?users/{_UUID}/{_UUID}$")


def permanent_key(user_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where a confirmed image's bytes live (the seed's users/<user_id>/<image_id>)."""
    return f"users/{user_id}/{image_id}"


def staging_key(user_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where the client uploads an image before it is confirmed."""
    return f"{STAGING_PREFIX}{permanent_key(user_id, image_id)}"


def pinned_key(user_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where notify keeps the upload it checks until the image is confirmed."""
    return f"{PINNED_PREFIX}{permanent_key(user_id, image_id)}"


def user_prefixes(user_id: uuid.UUID) -> tuple[str, ...]:
    """The permanent, staging and pinned prefixes holding every object of a user."""
    return tuple(f"{area}users/{user_id}/" for area in ("", STAGING_PREFIX, PINNED_PREFIX))


def is_valid_key(key: str) -> bool:
    """True for keys this service generates, and only those."""
    return KEY_PATTERN.fullmatch(key) is not None


def image_id_of(key: str) -> uuid.UUID:
    """The image id at the end of a valid key."""
    return uuid.UUID(key.rsplit("/", 1)[1])


def user_id_of(key: str) -> uuid.UUID:
    """The user id in a valid key (the folder above the image id)."""
    return uuid.UUID(key.rsplit("/", 2)[1])
