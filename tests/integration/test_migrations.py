"""One Alembic history for both databases: migrated to head, the schema is the models'."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import LargeBinary, Table, Uuid, column, inspect, select, text
from sqlalchemy import table as sa_table

import bitimage.models  # noqa: F401 - fills Base.metadata with every table
from bitimage.bootstrap import Container
from bitimage.db.base import Base
from bitimage.db.migrate import alembic_config, pending_revision
from bitimage.images.models import Image
from bitimage.search.ports import SearchQuery
from bitimage.search.vectors import DIMENSIONS, quantise, unit
from bitimage.users.models import User

_GRAMS = ("tags_grams", "content_labels_grams")  # SQLite's vocabulary FTS5 tables (0017)


def _our_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Skip the vector tables before reflection (pgvector's `halfvec` has no SQLAlchemy type)
    and the vocabularies' FTS5 tables (raw SQL, outside the models)."""
    return not (type_ == "table" and str(name).startswith(("image_vector", *_GRAMS)))


def _ours(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
    """Skip the search and vector indexes: raw SQL of each dialect, outside the models."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    trigram_index = type_ == "index" and str(name).endswith("_trgm")  # PostgreSQL's, raw SQL
    skipped = ("image_search", "image_vector", *_GRAMS)
    return not str(table).startswith(skipped) and not trigram_index


def test_head_schema_matches_the_models(container: Container) -> None:
    engine = container.database.engine
    assert pending_revision(engine) is None
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": _our_name, "include_object": _ours, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def _migrate(container: Container, revision: str) -> None:
    """Take the schema down (or up, "head") to `revision`."""
    config = alembic_config(str(container.database.engine.url))
    with container.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def _add_images(container: Container, owner: uuid.UUID, images: dict[uuid.UUID, Any]) -> None:
    """A user and these images (id: analysis facts), in the columns the schema has now."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = {"user_id": owner, "name": "x", "hash": "0" * 32, "size_bytes": 1, "width": 1,
           "height": 1, "file_format": "jpeg", "is_private": True, "storage_key": "k",
           "analysis_status": "done", "moderation": "none", "created_at": now,
           "public_copy": False}  # fmt: skip
    with container.database.engine.begin() as connection:
        present = {c["name"] for c in inspect(connection).get_columns("images")}
        connection.execute(
            cast(Table, User.__table__).insert(),
            [{"id": owner, "image_upload_count": len(images), "image_upload_limit": None,
              "created_at": now}],
        )  # fmt: skip
        for image_id, facts in images.items():
            values = {**row, "id": image_id, "analysis_facts": facts}
            connection.execute(
                cast(Table, Image.__table__)
                .insert()
                .values({name: value for name, value in values.items() if name in present})
            )


def test_near_duplicate_bands_are_filled_for_images_analysed_before(container: Container) -> None:
    _migrate(container, "0008")
    owner, analysed, pending = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _add_images(container, owner, {analysed: {"dhash": "0123456789abcdef"}, pending: None})
    _migrate(container, "head")
    engine = container.database.engine
    with engine.connect() as connection:
        bands = {
            image_id: tuple(rest)
            for image_id, *rest in connection.execute(
                select(Image.id, Image.dhash0, Image.dhash1, Image.dhash2, Image.dhash3)
            )
        }
    assert bands[analysed] == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert bands[pending] == (None, None, None, None)


def test_vectors_stored_before_the_index_get_their_codes(container: Container) -> None:
    _migrate(container, "0011")
    owner, image_id = uuid.uuid4(), uuid.uuid4()
    vector = unit(np.random.default_rng(12).normal(size=DIMENSIONS))
    _add_images(container, owner, {image_id: None})
    with container.database.engine.begin() as connection:
        connection.execute(
            sa_table(
                "image_search_vectors", column("image_id", Uuid), column("embedding", LargeBinary)
            ).insert(),
            [{"image_id": image_id, "embedding": vector.tobytes()}],
        )
    _migrate(container, "head")
    with container.database.transaction(write=False) as session:
        index = container.vector_upkeep.index
        assert index.status(session) == (1, 0, 0)  # one vector, untrained
        row = session.execute(text("SELECT generation, scale, code FROM image_vector_lists")).one()
    assert (row[0], row[1], bytes(row[2])) == (0, *quantise(vector))
    if container.database.dialect == "postgresql":  # 0013 copied it for pgvector as well
        with container.database.transaction(write=False) as session:
            copied = session.execute(
                text("SELECT embedding::text FROM image_vectors_hnsw WHERE image_id = :id"),
                {"id": image_id},
            ).scalar_one()
        assert np.abs(np.array(json.loads(copied)) - vector).max() < 1e-3  # a halfvec's rounding


# PostgreSQL's alone: SQLite's names are in FTS5.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_names_indexed_before_get_their_words_in_scope(container: Container) -> None:
    _migrate(container, "0013")
    owner, image_id = uuid.uuid4(), uuid.uuid4()
    _add_images(container, owner, {image_id: None})
    with container.database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO image_search (image_id, user_id, created_at, visible, name, tags, "
                "labels, text) SELECT id, user_id, created_at, false, 'img_20200313_1417.jpg', "
                "'', '', '' FROM images"
            )
        )
    _migrate(container, "head")
    with container.database.transaction(write=False) as session:
        words = session.execute(
            text("SELECT word, user_id FROM image_search_postings WHERE image_id = :id"),
            {"id": image_id},
        ).all()
        vocabulary = session.execute(text("SELECT word FROM image_search_words")).scalars()
        assert set(vocabulary) == {"img", "20200313", "1417", "jpg"}
    assert sorted(words) == sorted((word, owner) for word in ("img", "20200313", "1417", "jpg"))


# SQLite's alone: PostgreSQL's search rows held the name already.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_names_indexed_before_are_copied_beside_their_owner(container: Container) -> None:
    _migrate(container, "0014")
    owner, image_id = uuid.uuid4(), uuid.uuid4()
    _add_images(container, owner, {image_id: None})
    with container.database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO image_search_rows (image_id, user_id, created_at, visible) "
                "SELECT id, user_id, created_at, 0 FROM images"
            )
        )
        connection.execute(
            text(
                "INSERT INTO image_search (rowid, name, tags, labels, text) "
                "SELECT rowid, 'IMG_0042.JPG', '', '', '' FROM image_search_rows"
            )
        )
    _migrate(container, "head")
    with container.database.transaction(write=False) as session:
        name = session.execute(text("SELECT name FROM image_search_rows")).scalar_one()
        page = container.search_index.search(
            session, SearchQuery(owner_id=owner, name="img_0042", limit=10)
        )
    assert name == "IMG_0042.JPG"
    assert page.image_ids == [image_id]
