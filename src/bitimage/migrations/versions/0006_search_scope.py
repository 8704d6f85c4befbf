"""search scope in the index rows and the label and tag postings: owner, time, visible

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The scope of each image (visible: public and not hidden by moderation), copied to each table.
BACKFILL = {
    table: (
        f"UPDATE {table} SET user_id = i.user_id, created_at = i.created_at, "  # noqa: S608 - fixed names
        f"visible = NOT i.is_private AND i.moderation <> 'flagged' "
        f"FROM images i WHERE i.id = {table}.image_id"
    )
    for table in ("image_content_labels", "image_tags", "image_search", "image_search_rows")
}
POSTINGS = {
    "image_content_labels": ("label_id", "confidence"),
    "image_tags": ("tag_id",),
}


def _scope_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("visible", sa.Boolean(), nullable=True),
    ]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, keys in POSTINGS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in _scope_columns():
                batch_op.add_column(column)
        op.execute(BACKFILL[table])
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in ("user_id", "created_at", "visible"):
                batch_op.alter_column(name, nullable=False)
            # One owner's postings of a label or tag in result order (best, then newest),
            # and everyone's visible ones: a LIMIT stops after a page (scanned backwards).
            short = table.removeprefix("image_")
            batch_op.create_index(
                f"ix_{short}_owner_posting", ["user_id", *keys, "created_at", "image_id"]
            )
            batch_op.create_index(
                f"ix_{short}_public_posting",
                [*keys, "created_at", "image_id"],
                postgresql_where=sa.text("visible"),
                sqlite_where=sa.text("visible"),
            )
    if postgres:
        op.execute(
            "ALTER TABLE image_search ADD COLUMN user_id uuid, "
            "ADD COLUMN created_at timestamptz, ADD COLUMN visible boolean"
        )
        op.execute(BACKFILL["image_search"])
        op.execute(
            "ALTER TABLE image_search ALTER COLUMN user_id SET NOT NULL, "
            "ALTER COLUMN created_at SET NOT NULL, ALTER COLUMN visible SET NOT NULL"
        )
        op.execute("CREATE INDEX ix_image_search_owner ON image_search (user_id, created_at)")
        # A tag filter first finds its names in the vocabulary (as labels do since 0004).
        op.execute("CREATE INDEX ix_tags_name_trgm ON tags USING gin (name gin_trgm_ops)")
    else:
        # The FTS5 table takes no index: its rowid table carries the scope.
        op.execute("ALTER TABLE image_search_rows ADD COLUMN user_id CHAR(32) NOT NULL DEFAULT ''")
        op.execute("ALTER TABLE image_search_rows ADD COLUMN created_at DATETIME")
        op.execute("ALTER TABLE image_search_rows ADD COLUMN visible BOOLEAN NOT NULL DEFAULT 0")
        op.execute(BACKFILL["image_search_rows"])
        op.execute(
            "CREATE INDEX ix_image_search_rows_owner ON image_search_rows (user_id, created_at)"
        )
        op.execute(
            "CREATE INDEX ix_image_search_rows_public ON image_search_rows (created_at) "
            "WHERE visible"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_tags_name_trgm")
        op.execute("DROP INDEX ix_image_search_owner")
        op.execute(
            "ALTER TABLE image_search DROP COLUMN user_id, DROP COLUMN created_at, "
            "DROP COLUMN visible"
        )
    else:
        op.execute("DROP INDEX ix_image_search_rows_public")
        op.execute("DROP INDEX ix_image_search_rows_owner")
        for name in ("visible", "created_at", "user_id"):
            op.execute(f"ALTER TABLE image_search_rows DROP COLUMN {name}")
    for table in POSTINGS:
        short = table.removeprefix("image_")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{short}_public_posting")
            batch_op.drop_index(f"ix_{short}_owner_posting")
            for name in ("visible", "created_at", "user_id"):
                batch_op.drop_column(name)
