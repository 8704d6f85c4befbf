"""One Alembic history for both databases: migrated to head, the schema is the models'."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import bitimage.models  # noqa: F401 - fills Base.metadata with every table
from bitimage.bootstrap import Container
from bitimage.db.base import Base
from bitimage.db.migrate import pending_revision


def _ours(obj: Any, name: str | None, type_: str, _reflected: bool, _other: Any) -> bool:
    """Skip the search indexes: raw SQL of each dialect, deliberately outside the models."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    trigram_index = type_ == "index" and str(name).endswith("_trgm")  # PostgreSQL's, raw SQL
    return not str(table).startswith("image_search") and not trigram_index


def test_head_schema_matches_the_models(container: Container) -> None:
    engine = container.database.engine
    assert pending_revision(engine) is None
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _ours, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
