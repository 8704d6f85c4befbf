"""text read in images becomes searchable; images carry a moderation state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 15:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moderation", sa.String(length=16), nullable=False, server_default="none")
        )
    if op.get_bind().dialect.name == "sqlite":
        # FTS5 tables take no new column: build the four-column table and move the rows over.
        op.execute(
            "CREATE VIRTUAL TABLE image_search_v4 USING fts5("
            "name, tags, labels, text, tokenize = 'trigram')"
        )
        op.execute(
            "INSERT INTO image_search_v4 (rowid, name, tags, labels, text) "
            "SELECT rowid, name, tags, labels, '' FROM image_search"
        )
        op.execute("DROP TABLE image_search")
        op.execute("ALTER TABLE image_search_v4 RENAME TO image_search")
    else:
        op.execute("ALTER TABLE image_search ADD COLUMN text text NOT NULL DEFAULT ''")
        op.execute(
            "CREATE INDEX ix_image_search_text_trgm ON image_search USING gin (text gin_trgm_ops)"
        )
        # Label filters match label names (with their confidence) in content_labels.
        op.execute(
            "CREATE INDEX ix_content_labels_name_trgm ON content_labels "
            "USING gin (name gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE image_search_v3 USING fts5("
            "name, tags, labels, tokenize = 'trigram')"
        )
        op.execute(
            "INSERT INTO image_search_v3 (rowid, name, tags, labels) "
            "SELECT rowid, name, tags, labels FROM image_search"
        )
        op.execute("DROP TABLE image_search")
        op.execute("ALTER TABLE image_search_v3 RENAME TO image_search")
    else:
        op.execute("DROP INDEX ix_content_labels_name_trgm")
        op.execute("DROP INDEX ix_image_search_text_trgm")
        op.execute("ALTER TABLE image_search DROP COLUMN text")
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("moderation")
