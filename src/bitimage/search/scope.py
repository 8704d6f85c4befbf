"""Each image's search scope, copied where an index can use it: who owns it, when, who may see it.

The search rows (PostgreSQL's image_search, SQLite's image_search_rows) and the label and tag
postings (image_content_labels, image_tags) carry the image's owner, time and `visible`
(public and not flagged by moderation), so a search reads one owner's or the public's rows in
order through an index instead of joining every match to images. Owner and time never change;
`visible` does (moderation flags or clears, privacy changes): every writer of those calls
`rescope` for the images it changed, in its transaction, after locking their rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    TableClause,
    Update,
    bindparam,
    column,
    delete,
    literal_column,
    not_,
    table,
    update,
)
from sqlalchemy.orm import Session

from bitimage.search.query import IMAGES

_CHUNK = 500  # under SQLite's limit of bound values


def scope_table(name: str) -> TableClause:
    """A table keyed by image_id that carries the scope columns."""
    return table(name, column("image_id"), column("user_id"), column("created_at"),
                 column("visible"))  # fmt: skip


# Who but the owner may find the image: the one definition, in SQL.
VISIBLE: ColumnElement[Any] = not_(IMAGES.c.is_private) & (
    IMAGES.c.moderation != literal_column("'flagged'")
)
POSTINGS = (scope_table("image_content_labels"), scope_table("image_tags"))


def rescope_statement(target: TableClause) -> Update:
    """UPDATE `target` with its images' scope, for the image ids bound as :ids."""
    return (
        update(target)
        .values(user_id=IMAGES.c.user_id, created_at=IMAGES.c.created_at, visible=VISIBLE)
        .where(
            target.c.image_id == IMAGES.c.id,
            target.c.image_id.in_(bindparam("ids", expanding=True)),
        )
    )


def rescope(session: Session, statements: Sequence[Update], image_ids: Sequence[Any]) -> None:
    """Run the rescope statements for these ids (as the database compares them)."""
    # The images' rows may have changed through the ORM (moderation): they must be written.
    session.flush()
    for start in range(0, len(image_ids), _CHUNK):
        chunk = list(image_ids[start : start + _CHUNK])
        for statement in statements:
            session.execute(statement, {"ids": chunk})


_FORGET = [
    delete(target).where(target.c.image_id.in_(bindparam("ids", expanding=True)))
    for target in POSTINGS
]


def forget_postings(session: Session, image_ids: Sequence[Any]) -> None:
    """Delete these images' label and tag postings (ids as the database compares them)."""
    for start in range(0, len(image_ids), _CHUNK):
        for statement in _FORGET:
            session.execute(statement, {"ids": list(image_ids[start : start + _CHUNK])})


def posting_statements() -> list[Update]:
    """The rescope statements of the label and tag postings (shared by every database)."""
    return [rescope_statement(target) for target in POSTINGS]
