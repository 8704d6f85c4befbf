"""Queries on images, tags, labels, upload grants and pending storage purges."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import (
    BindParameter,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from bitimage.images.models import (
    ContentLabel,
    Image,
    ImageContentLabel,
    ImageTag,
    StoragePurge,
    Tag,
    UploadGrant,
)
from bitimage.search.ports import SearchEntry

_CHUNK = 500  # stay well under SQLite's bound-parameter limit

# The statements of the notify path are built once: building a select and its cache key
# cost SQLAlchemy as much as executing it. They name tables, not mapped classes, so they
# skip the ORM's execution layer too; these run while the database's write lock is held.
_IMAGES, _GRANTS = cast(Table, Image.__table__), cast(Table, UploadGrant.__table__)
_TAGS, _IMAGE_TAGS = cast(Table, Tag.__table__), cast(Table, ImageTag.__table__)


def _ids() -> BindParameter[list[uuid.UUID]]:
    return bindparam("ids", expanding=True)


_OWNERS = select(_IMAGES.c.id, _IMAGES.c.user_id).where(_IMAGES.c.id.in_(_ids()))
_GRANT_HOLDERS = (
    select(_GRANTS.c.image_id, _GRANTS.c.user_id, _GRANTS.c.claimed_at)
    .where(_GRANTS.c.image_id.in_(_ids()))
    .order_by(_GRANTS.c.image_id)  # one locking order, as claims take them
    .with_for_update()
)
# One indexed lookup per storage PUT: may this URL still be written to?
_PUT_STATE = select(_GRANTS.c.user_id, _GRANTS.c.claimed_at, _GRANTS.c.pinned).where(
    _GRANTS.c.image_id == bindparam("id")
)
_DELETE_GRANTS = delete(_GRANTS).where(_GRANTS.c.image_id.in_(_ids()))
_LOCK_GRANTS = (
    select(_GRANTS.c.image_id)
    .where(_GRANTS.c.image_id.in_(_ids()))
    .order_by(_GRANTS.c.image_id)
    .with_for_update()
)
_CLAIM_GRANTS = (
    update(_GRANTS)
    .where(
        _GRANTS.c.image_id.in_(_ids()),
        _GRANTS.c.user_id == bindparam("user"),
        or_(_GRANTS.c.claimed_at.is_(None), _GRANTS.c.claimed_at < bindparam("stale")),
    )
    .values(claimed_at=bindparam("now"))
    .returning(_GRANTS.c.image_id)
)
_GRANTS_OF = select(_GRANTS.c.image_id).where(
    _GRANTS.c.image_id.in_(_ids()), _GRANTS.c.user_id == bindparam("user")
)
_TAG_IDS = select(_TAGS.c.name, _TAGS.c.id).where(
    _TAGS.c.name.in_(bindparam("names", expanding=True))
)
_INSERT_IMAGES, _INSERT_TAGS = insert(_IMAGES), insert(_TAGS)
_INSERT_IMAGE_TAGS = insert(_IMAGE_TAGS)


class Listed(NamedTuple):
    """What a summary shows of an image and what its URLs need: a row, not a mapped object."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    is_private: bool
    file_format: str
    storage_key: str
    placeholder: str | None
    created_at: datetime
    width: int
    height: int
    size_bytes: int
    analysis_status: str
    public_copy: bool
    rendered_at: datetime | None


# A page of summaries read as rows: building 100 mapped Images (identity map, every column,
# the analysis facts' JSON) took about half of an unfiltered page's time (bench_search).
_LISTED = select(*(_IMAGES.c[column] for column in Listed._fields)).where(_IMAGES.c.id.in_(_ids()))

Scopes = dict[uuid.UUID, dict[str, object]]  # image id -> user_id, created_at, visible


def scope_of(row: dict[str, object]) -> dict[str, object]:
    """The search scope of an image's row, as search/scope.py's VISIBLE computes it in SQL."""
    visible = not row["is_private"] and row.get("moderation", "none") != "flagged"
    return {"user_id": row["user_id"], "created_at": row["created_at"], "visible": visible}


def _chunks(ids: Sequence[uuid.UUID]) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


class ImageRepository:
    """Reads and writes image rows and what hangs off them, in the given session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- upload grants -------------------------------------------------------------------
    def add_grants(self, grants: Sequence[dict[str, object]]) -> None:
        """Insert issued upload grants in one statement."""
        if grants:
            self.session.execute(insert(UploadGrant), list(grants))

    def grants(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, UploadGrant]:
        """The grants for these image ids, by id."""
        found: dict[uuid.UUID, UploadGrant] = {}
        for chunk in _chunks(image_ids):
            rows = self.session.scalars(select(UploadGrant).where(UploadGrant.image_id.in_(chunk)))
            found.update({grant.image_id: grant for grant in rows})
        return found

    def grant_holders(
        self, image_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[uuid.UUID, datetime | None]]:
        """Image id -> (its grant's user, its claim), rows locked against the sweeper."""
        found: dict[uuid.UUID, tuple[uuid.UUID, datetime | None]] = {}
        for chunk in _chunks(sorted(image_ids)):
            rows = self.session.execute(_GRANT_HOLDERS, {"ids": chunk})
            found.update({image_id: (user, claim) for image_id, user, claim in rows})
        return found

    def claim_grants(
        self, user_id: uuid.UUID, image_ids: Sequence[uuid.UUID], now: datetime, stale: datetime
    ) -> set[uuid.UUID]:
        """Mark the user's unclaimed (or stale-claimed) grants as claimed at `now`; which were."""
        ids = list(image_ids)
        if self.session.get_bind().dialect.name != "sqlite":  # SQLite locks the whole file
            # Rows are locked in id order first, as the group commit locks them: no deadlock.
            self.session.execute(_LOCK_GRANTS, {"ids": ids})
        values = {"ids": ids, "user": user_id, "now": now, "stale": stale}
        return set(self.session.scalars(_CLAIM_GRANTS, values))

    def grants_of(self, user_id: uuid.UUID, image_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these ids have a grant issued to this user."""
        return set(self.session.scalars(_GRANTS_OF, {"ids": list(image_ids), "user": user_id}))

    def release_grants(
        self, image_ids: Sequence[uuid.UUID], claim: datetime, pinned: Sequence[uuid.UUID]
    ) -> None:
        """End the claim `claim` on these grants; mark the `pinned` ones as taking no PUT."""
        mine = (_GRANTS.c.image_id.in_(image_ids), _GRANTS.c.claimed_at == claim)
        if pinned:
            self.session.execute(
                update(_GRANTS).where(*mine, _GRANTS.c.image_id.in_(pinned)).values(pinned=True)
            )
        self.session.execute(update(_GRANTS).where(*mine).values(claimed_at=None))

    def put_state(self, image_id: uuid.UUID) -> tuple[uuid.UUID, bool] | None:
        """(The grant's user, whether it still takes PUTs) for an image id; None: no grant."""
        row = self.session.execute(_PUT_STATE, {"id": image_id}).first()
        if row is None:
            return None
        user, claimed_at, pinned = row
        return user, claimed_at is None and not pinned

    def live_grants(self, user_id: uuid.UUID, now: datetime) -> tuple[int, datetime | None]:
        """How many unexpired grants the user holds, and when the first of them expires."""
        query = select(func.count(), func.min(_GRANTS.c.expires_at)).where(
            _GRANTS.c.user_id == user_id, _GRANTS.c.expires_at >= now
        )
        count, first = self.session.execute(query).one()
        return int(count), first

    def delete_grants(self, image_ids: Sequence[uuid.UUID]) -> None:
        """Forget these grants."""
        for chunk in _chunks(image_ids):
            self.session.execute(_DELETE_GRANTS, {"ids": chunk})

    def delete_grants_of_user(self, user_id: uuid.UUID) -> None:
        """Forget every grant of a user."""
        self.session.execute(delete(UploadGrant).where(UploadGrant.user_id == user_id))

    def expired_grants(self, now: datetime, limit: int) -> list[UploadGrant]:
        """Grants whose URL expired before `now`, oldest first."""
        query = (
            select(UploadGrant)
            .where(UploadGrant.expires_at < now)
            .order_by(UploadGrant.expires_at)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def live_grant_ids(self, image_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these image ids still have a grant."""
        return set(self.grants(image_ids))

    # --- images --------------------------------------------------------------------------
    def get(self, image_id: uuid.UUID) -> Image | None:
        """One image, or None."""
        return self.session.get(Image, image_id)

    def get_many(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Image]:
        """These images, by id (missing ones are absent)."""
        found: dict[uuid.UUID, Image] = {}
        for chunk in _chunks(image_ids):
            found.update(
                {i.id: i for i in self.session.scalars(select(Image).where(Image.id.in_(chunk)))}
            )
        return found

    def listed(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Listed]:
        """What summaries show of these images, by id (missing ones are absent)."""
        found: dict[uuid.UUID, Listed] = {}
        for chunk in _chunks(image_ids):
            for row in self.session.execute(_LISTED, {"ids": list(chunk)}):
                found[row[0]] = Listed._make(row)
        return found

    def lock(self, image_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Image]:
        """These images, their rows locked in id order until the transaction ends.

        Every transaction that changes an image or what hangs off it (tags, labels, search
        rows, jobs) locks the image rows first and in this one order, so two of them never
        wait for each other in a circle (PostgreSQL; on SQLite the write lock serialises).
        """
        found: dict[uuid.UUID, Image] = {}
        for chunk in _chunks(sorted(set(image_ids))):
            query = select(Image).where(Image.id.in_(chunk)).order_by(Image.id).with_for_update()
            found.update({image.id: image for image in self.session.scalars(query)})
        return found

    def owners(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """Image id -> owner, for the ids that are confirmed images."""
        found: dict[uuid.UUID, uuid.UUID] = {}
        for chunk in _chunks(image_ids):
            found.update(self.session.execute(_OWNERS, {"ids": chunk}).all())
        return found

    def ids_of_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Every image id of a user."""
        return list(self.session.scalars(select(Image.id).where(Image.user_id == user_id)))

    def insert_images(self, rows: Sequence[dict[str, object]]) -> None:
        """Insert image rows in one statement (Core: no unit of work to build and flush)."""
        if rows:
            self.session.execute(_INSERT_IMAGES, list(rows))

    def delete(self, image_ids: Sequence[uuid.UUID]) -> None:
        """Delete image rows and their tag and label links."""
        for chunk in _chunks(image_ids):
            self.session.execute(delete(ImageTag).where(ImageTag.image_id.in_(chunk)))
            self.session.execute(
                delete(ImageContentLabel).where(ImageContentLabel.image_id.in_(chunk))
            )
            self.session.execute(delete(Image).where(Image.id.in_(chunk)))

    # --- tags and labels -------------------------------------------------------------------
    def ensure_tags(self, names: Iterable[str]) -> dict[str, uuid.UUID]:
        """Tag name -> id for these names, creating the missing tags."""
        wanted = set(names)
        if not wanted:
            return {}
        found = self.session.execute(_TAG_IDS, {"names": sorted(wanted)})
        tags: dict[str, uuid.UUID] = dict(found.all())
        missing = {name: uuid.uuid4() for name in sorted(wanted - tags.keys())}
        if missing:
            rows = [{"id": tag_id, "name": name} for name, tag_id in missing.items()]
            self.session.execute(_INSERT_TAGS, rows)
            tags.update(missing)
        return tags

    def link_tags(self, links: Sequence[tuple[uuid.UUID, uuid.UUID]], images: Scopes) -> None:
        """Attach tags to images: (image id, tag id) pairs, in one statement.

        Each link carries its image's scope (search/scope.py), given by image id in `images`:
        the rows of images written in this transaction (new: never flagged yet).
        """
        if links:
            rows = [
                {"image_id": image_id, "tag_id": tag_id, **images[image_id]}
                for image_id, tag_id in links
            ]
            self.session.execute(_INSERT_IMAGE_TAGS, rows)

    def replace_tags(
        self, image_id: uuid.UUID, names: Sequence[str], scope: dict[str, object]
    ) -> None:
        """Give an image exactly these tags (lower-cased names), links carrying its scope."""
        self.session.execute(delete(_IMAGE_TAGS).where(_IMAGE_TAGS.c.image_id == image_id))
        tag_ids = self.ensure_tags(names)
        self.link_tags([(image_id, tag_ids[name]) for name in names], {image_id: scope})

    def tags_of(self, image_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Tag]]:
        """Each image's tags, by image id, sorted by name."""
        found: dict[uuid.UUID, list[Tag]] = defaultdict(list)
        for chunk in _chunks(image_ids):
            rows = self.session.execute(
                select(ImageTag.image_id, Tag)
                .join(Tag, Tag.id == ImageTag.tag_id)
                .where(ImageTag.image_id.in_(chunk))
                .order_by(Tag.name)
            )
            for image_id, tag in rows:
                found[image_id].append(tag)
        return found

    def search_entry(self, image: Image) -> SearchEntry:
        """The image's searchable text as its rows hold it now (analysis and editing index it)."""
        tags = [tag.name for tag in self.tags_of([image.id]).get(image.id, [])]
        labels = self.session.scalars(
            select(ContentLabel.name)
            .join(ImageContentLabel, ImageContentLabel.label_id == ContentLabel.id)
            .where(ImageContentLabel.image_id == image.id)
        )
        text = (image.analysis_facts or {}).get("text") or ""
        return SearchEntry(image.id, image.name, tags, sorted(set(labels)), text)

    def labels_of(self, image_id: uuid.UUID) -> list[tuple[ContentLabel, ImageContentLabel]]:
        """An image's content labels, each once with its most confident source, best first."""
        rows = self.session.execute(
            select(ContentLabel, ImageContentLabel)
            .join(ImageContentLabel, ImageContentLabel.label_id == ContentLabel.id)
            .where(ImageContentLabel.image_id == image_id)
            .order_by(ImageContentLabel.confidence.desc(), ContentLabel.name)
        )
        best: dict[uuid.UUID, tuple[ContentLabel, ImageContentLabel]] = {}
        for label, link in rows:
            best.setdefault(label.id, (label, link))
        return list(best.values())

    # --- storage purges --------------------------------------------------------------------
    def add_purge(self, key: str, is_prefix: bool = False) -> StoragePurge:
        """Record objects to delete once this transaction commits."""
        purge = StoragePurge(key=key, is_prefix=is_prefix)
        self.session.add(purge)
        self.session.flush()
        return purge

    def pending_purges(self, limit: int) -> list[StoragePurge]:
        """Purges not yet carried out, oldest first."""
        return list(
            self.session.scalars(select(StoragePurge).order_by(StoragePurge.id).limit(limit))
        )

    def purges(self, purge_ids: Sequence[int]) -> list[StoragePurge]:
        """These purges, if still pending."""
        if not purge_ids:
            return []
        return list(
            self.session.scalars(select(StoragePurge).where(StoragePurge.id.in_(purge_ids)))
        )

    def delete_purges(self, purge_ids: Sequence[int]) -> None:
        """Forget purges that were carried out."""
        if purge_ids:
            self.session.execute(delete(StoragePurge).where(StoragePurge.id.in_(purge_ids)))
