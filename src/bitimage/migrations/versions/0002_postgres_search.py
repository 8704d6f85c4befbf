"""PostgreSQL search index: pg_trgm GIN indexes over each image's searchable text

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 15:10:00
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has its FTS5 index since 0001
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE TABLE image_search ("
        " image_id uuid PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,"
        " name text NOT NULL, tags text NOT NULL, labels text NOT NULL)"
    )
    for column in ("name", "tags", "labels"):
        op.execute(
            f"CREATE INDEX ix_image_search_{column}_trgm ON image_search "
            f"USING gin ({column} gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE image_search")
