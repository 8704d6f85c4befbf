"""One Alembic history for both databases: migrated to head, the schema is the models'."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import LargeBinary, Table, Uuid, column, select, text
from sqlalchemy import table as sa_table

import bitimage.models  # noqa: F401 - fills Base.metadata with every table
from bitimage.bootstrap import Container
from bitimage.db.base import Base
from bitimage.db.migrate import alembic_config, pending_revision
from bitimage.images.models import Image
from bitimage.search.vectors import DIMENSIONS, quantise, unit
from bitimage.users.models import User


def _ours(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
    """Skip the search and vector indexes: raw SQL of each dialect, outside the models."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    trigram_index = type_ == "index" and str(name).endswith("_trgm")  # PostgreSQL's, raw SQL
    return not str(table).startswith(("image_search", "image_vector")) and not trigram_index


def test_head_schema_matches_the_models(container: Container) -> None:
    engine = container.database.engine
    assert pending_revision(engine) is None
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _ours, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_near_duplicate_bands_are_filled_for_images_analysed_before(container: Container) -> None:
    engine = container.database.engine
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    owner, analysed, pending = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = {"user_id": owner, "name": "x", "hash": "0" * 32, "size_bytes": 1, "width": 1,
           "height": 1, "file_format": "jpeg", "is_private": True, "storage_key": "k",
           "analysis_status": "done", "moderation": "none", "created_at": now,
           "public_copy": False}  # fmt: skip
    columns = [c for c in Image.__table__.c if not c.name.startswith("dhash")]  # 0008's
    with engine.begin() as connection:
        connection.execute(
            cast(Table, User.__table__).insert(),
            [{"id": owner, "image_upload_count": 2, "image_upload_limit": None, "created_at": now}],
        )
        for image_id, facts in ((analysed, {"dhash": "0123456789abcdef"}), (pending, None)):
            values = {**row, "id": image_id, "analysis_facts": facts}
            statement = (
                cast(Table, Image.__table__)
                .insert()
                .values({c.name: values.get(c.name) for c in columns if c.name in values})
            )
            connection.execute(statement)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
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
    engine = container.database.engine
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    owner, image_id = uuid.uuid4(), uuid.uuid4()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    vector = unit(np.random.default_rng(12).normal(size=DIMENSIONS))
    with engine.begin() as connection:
        connection.execute(
            cast(Table, User.__table__).insert(),
            [{"id": owner, "image_upload_count": 1, "image_upload_limit": None, "created_at": now}],
        )
        connection.execute(
            cast(Table, Image.__table__).insert(),
            [{"id": image_id, "user_id": owner, "name": "x", "hash": "0" * 32, "size_bytes": 1,
              "width": 1, "height": 1, "file_format": "jpeg", "is_private": True,
              "storage_key": "k", "analysis_status": "done", "moderation": "none",
              "created_at": now, "public_copy": False}],
        )  # fmt: skip
        connection.execute(
            sa_table(
                "image_search_vectors", column("image_id", Uuid), column("embedding", LargeBinary)
            ).insert(),
            [{"image_id": image_id, "embedding": vector.tobytes()}],
        )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with container.database.transaction(write=False) as session:
        index = container.vector_upkeep.index
        assert index.status(session) == (1, 0, 0)  # one vector, untrained
        row = session.execute(text("SELECT generation, scale, code FROM image_vector_lists")).one()
    assert (row[0], row[1], bytes(row[2])) == (0, *quantise(vector))
