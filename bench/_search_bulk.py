"""The bulk path of bench_search.py: each table's rows from a `Photo`, written in big chunks.

One small function per table makes that table's rows (add a column there); `write_photos`
writes them, SQLAlchemy Core executemany on SQLite and COPY through psycopg on PostgreSQL,
and hands the search rows to the project's own `SearchIndex.index`. `bench/_search_check.py`
compares what this writes with what the service's own code writes for the same photos.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from bitimage.images.models import ContentLabel, Image, ImageContentLabel, ImageTag, Tag
from bitimage.search.ports import SearchEntry, SearchIndex
from bitimage.storage.keys import permanent_key
from bitimage.users.models import User

try:
    from bench._search_data import Photo
except ModuleNotFoundError:  # run as `python bench/bench_search.py`
    from _search_data import Photo  # type: ignore[import-not-found,no-redef]

Row = dict[str, Any]
USERS, IMAGES = cast(Table, User.__table__), cast(Table, Image.__table__)
TAGS, IMAGE_TAGS = cast(Table, Tag.__table__), cast(Table, ImageTag.__table__)
LABELS, IMAGE_LABELS = cast(Table, ContentLabel.__table__), cast(Table, ImageContentLabel.__table__)


@dataclass(frozen=True)
class Ids:
    """Tag and label ids by name, and each tag's place in the database's name order."""

    tags: dict[str, uuid.UUID]
    labels: dict[str, uuid.UUID]
    tag_order: dict[str, int]


# --- one function per table: the rows the service's own code would leave --------------------
def user_rows(users: dict[uuid.UUID, int], created_at: datetime) -> list[Row]:
    """Accounts, with their image counts."""
    return [
        {"id": user_id, "image_upload_count": count, "image_upload_limit": None,
         "created_at": created_at}
        for user_id, count in users.items()
    ]  # fmt: skip


def tag_rows(tags: dict[str, uuid.UUID]) -> list[Row]:
    """The tag names."""
    return [{"id": tag_id, "name": name} for name, tag_id in tags.items()]


def content_label_rows(labels: dict[str, uuid.UUID]) -> list[Row]:
    """The label names."""
    return [{"id": label_id, "name": name} for name, label_id in labels.items()]


def facts_of(photo: Photo) -> dict[str, Any]:
    """The analysers' facts merged in their order, as AnalysisService.save merges them."""
    facts: dict[str, Any] = {}
    for name, result in photo.analysis.results.items():
        facts.update(result.facts)
        if result.text is not None or name == "text":
            facts["text"] = result.text
    return facts


def image_row(photo: Photo, moderation_threshold: float) -> Row:
    """A confirmed, analysed image (flagged when its explicit score reaches the threshold)."""
    flagged = photo.explicit >= moderation_threshold
    return {
        "id": photo.id, "user_id": photo.user_id, "name": photo.name, "hash": photo.hash,
        "size_bytes": photo.size_bytes, "file_format": photo.file_format,
        "width": photo.width, "height": photo.height, "is_private": photo.is_private,
        "storage_key": permanent_key(photo.user_id, photo.id), "analysis_status": "done",
        "moderation": "flagged" if flagged else "none", "analysis_error": None,
        "analysis_facts": facts_of(photo), "analysed_at": photo.analysed_at,
        "created_at": photo.created_at,
        # Rendered, as the analyze job's first step leaves every image; a public one with its
        # stripped copy made ahead. (Without them each summaries call queued render jobs.)
        "rendered_at": photo.rendered_at, "placeholder": photo.placeholder,
        "public_copy": not photo.is_private,
    }  # fmt: skip


def scope(photo: Photo, moderation_threshold: float) -> Row:
    """The image's search scope, copied into its postings (search/scope.py)."""
    flagged = photo.explicit >= moderation_threshold
    visible = not photo.is_private and not flagged
    return {"user_id": photo.user_id, "created_at": photo.created_at, "visible": visible}


def image_tag_rows(photo: Photo, ids: Ids, threshold: float) -> list[Row]:
    """The photo's links to its tags, with its scope."""
    where = scope(photo, threshold)
    return [{"image_id": photo.id, "tag_id": ids.tags[name], **where} for name in photo.tags]


def image_content_label_rows(photo: Photo, ids: Ids, threshold: float) -> list[Row]:
    """Each analyser's labels of the photo, each name once at its best confidence, its scope."""
    where = scope(photo, threshold)
    rows = []
    for analyser, result in photo.analysis.results.items():
        best: dict[str, float] = {}
        for label in result.labels:
            best[label.name] = max(best.get(label.name, 0.0), label.confidence)
        model = photo.analysis.models[analyser]
        rows += [
            {"image_id": photo.id, "label_id": ids.labels[name], "confidence": confidence,
             "analyser": analyser, "model": model, **where}
            for name, confidence in best.items()
        ]  # fmt: skip
    return rows


def search_entry(photo: Photo, ids: Ids) -> SearchEntry:
    """The photo's searchable text, tags in the database's name order as the analysis reads them."""
    tags = sorted(photo.tags, key=ids.tag_order.__getitem__)
    return SearchEntry(photo.id, photo.name, tags, sorted(photo.labels), photo.text)


# --- writing -----------------------------------------------------------------------------------
class RowWriter(Protocol):
    """Writes rows (dicts with the same keys) into one table, in the session's transaction."""

    def write(self, session: Session, table: Table, rows: Sequence[Row]) -> None:
        """Insert these rows."""
        ...


class CoreWriter:
    """One SQLAlchemy Core executemany: the column types convert the values."""

    def write(self, session: Session, table: Table, rows: Sequence[Row]) -> None:
        """Insert these rows."""
        if rows:
            session.execute(insert(table), list(rows))


class CopyWriter:
    """COPY ... FROM STDIN through psycopg 3 (several times faster than INSERT)."""

    def write(self, session: Session, table: Table, rows: Sequence[Row]) -> None:
        """Insert these rows."""
        if not rows:
            return
        columns = list(rows[0])
        names = ", ".join(f'"{c}"' for c in columns)
        raw: Any = session.connection().connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row([_copy_value(row[c]) for c in columns])


def _copy_value(value: object) -> object:
    from psycopg.types.json import Json  # an optional dependency, there with PostgreSQL

    return Json(value) if isinstance(value, dict | list) else value


def writer_for(session: Session) -> RowWriter:
    """COPY on PostgreSQL, Core executemany elsewhere."""
    return CopyWriter() if session.get_bind().dialect.name == "postgresql" else CoreWriter()


def write_vocabulary(
    session: Session, tags: dict[str, uuid.UUID], labels: dict[str, uuid.UUID]
) -> None:
    """Every tag and label name, before any image."""
    writer = writer_for(session)
    writer.write(session, TAGS, tag_rows(tags))
    writer.write(session, LABELS, content_label_rows(labels))


def read_ids(session: Session) -> Ids:
    """Tag and label ids as stored, and the tags' order as ImageRepository.tags_of sorts them."""
    tags = dict(session.execute(select(Tag.name, Tag.id).order_by(Tag.name)).tuples().all())
    labels = dict(session.execute(select(ContentLabel.name, ContentLabel.id)).tuples().all())
    return Ids(tags, labels, {name: rank for rank, name in enumerate(tags)})


def write_photos(
    session: Session, index: SearchIndex, photos: Sequence[Photo], ids: Ids, threshold: float
) -> None:
    """The photos' rows in every table, then their search rows through the project's index."""
    writer = writer_for(session)
    writer.write(session, IMAGES, [image_row(p, threshold) for p in photos])
    tag_links = [r for p in photos for r in image_tag_rows(p, ids, threshold)]
    writer.write(session, IMAGE_TAGS, tag_links)
    labels = [r for p in photos for r in image_content_label_rows(p, ids, threshold)]
    writer.write(session, IMAGE_LABELS, labels)
    index.index(session, [search_entry(p, ids) for p in photos])
