"""Object keys: built from generated ids only, so no client string ever becomes a path."""

from __future__ import annotations

import re
import uuid

STAGING_PREFIX = "staging/"
# Where notify moves a staged upload before checking it: no URL is ever signed for these
# keys, so the bytes checked are the bytes kept (a second PUT cannot reach them).
PINNED_PREFIX = "pinned/"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# What the service derives from a confirmed image's key: its renditions and the copy strangers
# get (metadata removed). Suffixes, not folders: the image's own key is a file on the local store.
THUMBNAIL_SUFFIX = ".thumb.webp"
PREVIEW_SUFFIX = ".preview.webp"
PUBLIC_SUFFIX = ".public"
DERIVED_SUFFIXES = (THUMBNAIL_SUFFIX, PREVIEW_SUFFIX, PUBLIC_SUFFIX)
_DERIVED = "|".join(re.escape(suffix) for suffix in DERIVED_SUFFIXES)
KEY_PATTERN = re.compile(
    rf"^(?:(?:staging/|pinned/)?users/{_UUID}/{_UUID}|users/{_UUID}/{_UUID}(?:{_DERIVED}))$"
)
_ID_LENGTH = 36


def permanent_key(user_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where a confirmed image's bytes live (users/<user_id>/<image_id>)."""
    return f"users/{user_id}/{image_id}"


def staging_key(user_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where the client uploads an image before it is confirmed."""
    return f"{STAGING_PREFIX}{permanent_key(user_id, image_id)}"


def pinned_key(user_id: uuid.UUID, image_id: uuid.UUID) -> str:
    """Where notify keeps the upload it checks until the image is confirmed."""
    return f"{PINNED_PREFIX}{permanent_key(user_id, image_id)}"


def thumbnail_key(storage_key: str) -> str:
    """Where the thumbnail (WebP, short edge 250 px) of the image at `storage_key` lives."""
    return storage_key + THUMBNAIL_SUFFIX


def preview_key(storage_key: str) -> str:
    """Where the preview (WebP, long edge 1440 px) of the image at `storage_key` lives."""
    return storage_key + PREVIEW_SUFFIX


def public_key(storage_key: str) -> str:
    """Where the original without location or camera metadata (for strangers) lives."""
    return storage_key + PUBLIC_SUFFIX


def derived_keys(storage_key: str) -> tuple[str, ...]:
    """Every object made from the image at `storage_key`: they go when it goes."""
    return tuple(storage_key + suffix for suffix in DERIVED_SUFFIXES)


# One letter per member of an image's family of keys: the letters a scoped URL lists are
# the members its one signature reaches (storage/local.py, presign_gets).
MEMBERS = {"": "o", THUMBNAIL_SUFFIX: "t", PREVIEW_SUFFIX: "p", PUBLIC_SUFFIX: "s"}
_PERMANENT = re.compile(rf"^users/{_UUID}/{_UUID}")


def family_of(key: str) -> tuple[str, str] | None:
    """(the image's own key, this key's member letter) for a confirmed image's keys, else None."""
    found = _PERMANENT.match(key)
    if found is None:
        return None
    member = MEMBERS.get(key[found.end() :])
    return None if member is None else (found.group(), member)


def user_prefixes(user_id: uuid.UUID) -> tuple[str, ...]:
    """The permanent, staging and pinned prefixes holding every object of a user."""
    return tuple(f"{area}users/{user_id}/" for area in ("", STAGING_PREFIX, PINNED_PREFIX))


def is_valid_key(key: str) -> bool:
    """True for keys this service generates, and only those."""
    return KEY_PATTERN.fullmatch(key) is not None


def image_id_of(key: str) -> uuid.UUID:
    """The image id at the end of a valid key."""
    return uuid.UUID(key.rsplit("/", 1)[1][:_ID_LENGTH])


def user_id_of(key: str) -> uuid.UUID:
    """The user id in a valid key (the folder above the image id)."""
    return uuid.UUID(key.rsplit("/", 2)[1])
